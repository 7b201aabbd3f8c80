/**
 * The JSON schema of one network selection element (multi-net-spec v1.3 section 4.1.2 plus Multus'
 * keys), validated by generated code (lib/schema-catalog.ts) with the same translation to problems as
 * CNI configurations (lib/schema.ts). Values whose rules live in lib/ functions (DNS-1123 names,
 * interface names, IP and hardware addresses) are x-checks, so their messages are those functions'.
 */
import { dns1123LabelError, dns1123SubdomainError } from '../k8s/names.ts';
import { isHardwareAddress } from '../net/hwaddr.ts';
import { parseIp, parseIpWithOptionalPrefix } from '../net/ip.ts';
import { registerCheck, type SchemaCheck } from '../schema.ts';
import { interfaceNameError } from './interface-name.ts';

/** The element's keys, in the order messages list them. */
export const selectionFields = [
  'name',
  'namespace',
  'interface',
  'ips',
  'mac',
  'infiniband-guid',
  'default-route',
  'portMappings',
  'bandwidth',
  'cni-args',
  'ipam-claim-reference',
] as const;

/** Reverse-DNS extension keys (spec 4.1.2.1), e.g. "com.example.vendor" or "example.com/knob". */
const reverseDnsKey =
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+(/[A-Za-z0-9][-A-Za-z0-9_.]*)?$';

const stringWith =
  (rule: (value: string) => string | undefined, notString = 'must be a string'): SchemaCheck =>
  (value) =>
    typeof value === 'string' ? rule(value) : notString;

const hardwareAddress =
  (bytes: number, what: string): SchemaCheck =>
  (value) =>
    typeof value === 'string' && isHardwareAddress(value, bytes)
      ? undefined
      : `${JSON.stringify(value)} is not ${what}`;

registerCheck('selection:label', stringWith(dns1123LabelError));
registerCheck('selection:interface', stringWith(interfaceNameError));
registerCheck('selection:ip', (value) =>
  typeof value === 'string' && parseIpWithOptionalPrefix(value) !== undefined
    ? undefined
    : `${JSON.stringify(value)} is not a valid IP address`,
);
registerCheck('selection:gateway', (value) =>
  typeof value === 'string' && parseIp(value) !== undefined
    ? undefined
    : `${JSON.stringify(value)} is not a valid gateway IP address`,
);
registerCheck('selection:host-ip', (value) =>
  typeof value === 'string' && parseIp(value) !== undefined
    ? undefined
    : `${JSON.stringify(value)} is not a valid IP address`,
);
registerCheck('selection:mac', hardwareAddress(6, 'a MAC address of 6 bytes, e.g. "c2:b0:57:49:47:f1"'));
registerCheck(
  'selection:guid',
  hardwareAddress(8, 'an InfiniBand GUID of 8 bytes, e.g. "c2:9b:4e:00:00:01:23:45"'),
);
registerCheck(
  'selection:claim',
  stringWith(dns1123SubdomainError, 'must be the name of an IPAMClaim (a string)'),
);

const ipList = (what: string, check: string): Record<string, unknown> => ({
  type: 'array',
  minItems: 1,
  'x-problem': `must be a non-empty list of ${what}`,
  items: { 'x-check': check },
});

const port = {
  type: 'integer',
  minimum: 1,
  maximum: 65535,
  'x-problem': 'must be a port number from 1 to 65535 (got {data})',
};

const bandwidthValue = {
  type: 'integer',
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  'x-problem': 'must be a non-negative integer (bits per second for rates, bits for bursts)',
};
const bandwidthFields = ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'];

export const selectionElementSchema = {
  type: 'object',
  'x-problem': 'must be an object with at least a "name"',
  required: ['name'],
  properties: {
    name: { 'x-check': 'selection:label' },
    namespace: { 'x-check': 'selection:label' },
    interface: { 'x-check': 'selection:interface' },
    ips: ipList('IP addresses, optionally with a prefix length ("192.0.2.10/24")', 'selection:ip'),
    mac: { 'x-check': 'selection:mac' },
    'infiniband-guid': { 'x-check': 'selection:guid' },
    'default-route': ipList('gateway IP addresses', 'selection:gateway'),
    portMappings: {
      type: 'array',
      'x-problem': 'must be a list of {hostPort, containerPort, protocol, hostIP}',
      items: {
        type: 'object',
        'x-problem': 'must be an object {hostPort, containerPort, protocol, hostIP}',
        required: ['hostPort', 'containerPort'],
        'x-required': 'must be a port number from 1 to 65535 (got undefined)',
        properties: {
          hostPort: port,
          containerPort: port,
          protocol: {
            type: 'string',
            pattern: '^([Tt][Cc][Pp]|[Uu][Dd][Pp]|[Ss][Cc][Tt][Pp])$',
            'x-problem': 'must be TCP, UDP or SCTP (got {data})',
          },
          hostIP: { 'x-check': 'selection:host-ip' },
        },
        additionalProperties: false,
        'x-unknown': 'unknown field',
      },
    },
    bandwidth: {
      type: 'object',
      'x-problem': 'must be an object {ingressRate, ingressBurst, egressRate, egressBurst}',
      properties: Object.fromEntries(bandwidthFields.map((field) => [field, bandwidthValue])),
      additionalProperties: false,
      'x-unknown': `unknown field; known fields are ${bandwidthFields.join(', ')}`,
      dependencies: { ingressBurst: ['ingressRate'], egressBurst: ['egressRate'] },
      'x-dependent': 'needs {missing}: a burst without a rate has no effect',
    },
    'cni-args': { type: 'object', 'x-problem': 'must be an object of CNI arguments' },
    'ipam-claim-reference': { 'x-check': 'selection:claim' },
  },
  patternProperties: { [reverseDnsKey]: {} },
  additionalProperties: false,
  'x-unknown': `unknown field; known fields are ${selectionFields.join(', ')} (extensions use reverse-DNS keys such as "com.example.key")`,
};
