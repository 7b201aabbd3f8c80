/**
 * The network selection annotation `k8s.v1.cni.cncf.io/networks` (multi-net-spec v1.3 section
 * 4.1.2 plus Multus' `@ifname`): the comma form `name`, `ns/name`, `ns/name@ifname`, or a JSON
 * list of network selection elements. Parsing normalizes both forms to the same elements.
 */
import { ProblemList, ValidationError } from '../errors.ts';
import { childPath } from '../json-path.ts';
import { dns1123LabelError, dns1123SubdomainError } from '../k8s/names.ts';
import { isHardwareAddress } from '../net/hwaddr.ts';
import { parseIp, parseIpWithOptionalPrefix } from '../net/ip.ts';
import { checkShape, isObject, type JsonObject, type JsonValue } from '../safe-json.ts';
import { interfaceNameError } from './interface-name.ts';

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol?: string;
  readonly hostIP?: string;
}

export interface Bandwidth {
  readonly ingressRate?: number;
  readonly ingressBurst?: number;
  readonly egressRate?: number;
  readonly egressBurst?: number;
}

/** A normalized network selection element: the spec's JSON keys, namespace always filled in. */
export interface NetworkSelectionElement {
  readonly name: string;
  readonly namespace: string;
  readonly interface?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly 'infiniband-guid'?: string;
  readonly 'default-route'?: readonly string[];
  readonly portMappings?: readonly PortMapping[];
  readonly bandwidth?: Bandwidth;
  readonly 'cni-args'?: JsonObject;
  readonly 'ipam-claim-reference'?: string;
  /** Implementation-specific keys in reverse-DNS form (spec 4.1.2.1), kept as given. */
  readonly extensions?: Readonly<Record<string, JsonValue>>;
}

/** The most elements one annotation may select; far above any real pod, low enough to bound work. */
export const maxNetworkSelections = 128;
/** Kubernetes caps all annotations of an object at 256 KiB together. */
export const maxAnnotationBytes = 256 * 1024;

const knownFields = [
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
const known = new Set<string>(knownFields);
/** Reverse-DNS extension keys, e.g. "com.example.vendor" or "example.com/knob". */
const reverseDnsKey =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+(\/[A-Za-z0-9][-A-Za-z0-9_.]*)?$/;
const protocols = new Set(['TCP', 'UDP', 'SCTP']);

/**
 * Parses and validates the annotation value. `defaultNamespace` is the pod's namespace. Throws a
 * ValidationError whose problems name the element index and field (`networks[1].interface`).
 */
export function parseNetworksAnnotation(
  value: string,
  defaultNamespace: string,
  root = 'networks',
): NetworkSelectionElement[] {
  if (typeof value !== 'string') throw ValidationError.single(root, 'must be a string');
  if (Buffer.byteLength(value, 'utf8') > maxAnnotationBytes) {
    throw ValidationError.single(root, `is larger than ${maxAnnotationBytes} bytes`);
  }
  const trimmed = value.trim();
  if (trimmed === '') return [];
  const elements = /^[[{"]/.test(trimmed)
    ? parseJsonForm(trimmed, defaultNamespace, root)
    : parseCommaForm(trimmed, defaultNamespace, root);
  checkCrossElementRules(elements, root);
  return elements;
}

function parseCommaForm(value: string, defaultNamespace: string, root: string): NetworkSelectionElement[] {
  const items = value.split(',');
  checkCount(items.length, root);
  const problems = new ProblemList();
  const elements: NetworkSelectionElement[] = [];
  items.forEach((raw, index) => {
    const path = `${root}[${index}]`;
    const item = raw.trim();
    if (item === '') {
      problems.add(path, 'empty item (two commas in a row, or a trailing comma)');
      return;
    }
    const slash = item.split('/');
    if (slash.length > 2) {
      problems.add(
        path,
        `${JSON.stringify(item)} has more than one '/'; use name, namespace/name or namespace/name@interface`,
      );
      return;
    }
    const [namespacePart, rest] = slash.length === 2 ? [slash[0]!.trim(), slash[1]!] : [undefined, slash[0]!];
    const at = rest.split('@');
    if (at.length > 2) {
      problems.add(path, `${JSON.stringify(item)} has more than one '@'; use namespace/name@interface`);
      return;
    }
    const name = at[0]!.trim();
    const ifname = at.length === 2 ? at[1]!.trim() : undefined;
    const before = problems.items.length;
    checkLabel(problems, `${path}.name`, name);
    if (namespacePart !== undefined) checkLabel(problems, `${path}.namespace`, namespacePart);
    if (ifname !== undefined) checkInterface(problems, `${path}.interface`, ifname);
    if (problems.items.length > before) return;
    elements.push({
      name,
      namespace: namespacePart ?? defaultNamespace,
      ...(ifname !== undefined ? { interface: ifname } : {}),
    });
  });
  problems.throwIfAny();
  return elements;
}

function parseJsonForm(value: string, defaultNamespace: string, root: string): NetworkSelectionElement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw ValidationError.single(
      root,
      `is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  checkShape(parsed, root);
  if (!Array.isArray(parsed)) {
    throw ValidationError.single(
      root,
      'must be a JSON list of network selection elements, e.g. [{"name":"macvlan-conf"}]',
    );
  }
  checkCount(parsed.length, root);
  const problems = new ProblemList();
  const elements: NetworkSelectionElement[] = [];
  parsed.forEach((item, index) => {
    const element = parseElement(problems, `${root}[${index}]`, item, defaultNamespace);
    if (element) elements.push(element);
  });
  problems.throwIfAny();
  return elements;
}

function checkCount(count: number, root: string): void {
  if (count > maxNetworkSelections) {
    throw ValidationError.single(
      root,
      `selects ${count} networks; at most ${maxNetworkSelections} are allowed`,
    );
  }
}

function parseElement(
  problems: ProblemList,
  path: string,
  item: unknown,
  defaultNamespace: string,
): NetworkSelectionElement | undefined {
  if (!isObject(item)) {
    problems.add(path, 'must be an object with at least a "name"');
    return undefined;
  }
  const before = problems.items.length;
  const out: Record<string, unknown> = {};
  const extensions: Record<string, JsonValue> = {};
  for (const [key, raw] of Object.entries(item)) {
    const at = childPath(path, key);
    if (!known.has(key)) {
      if (reverseDnsKey.test(key)) extensions[key] = raw;
      else
        problems.add(
          at,
          `unknown field; known fields are ${knownFields.join(', ')} (extensions use reverse-DNS keys such as "com.example.key")`,
        );
      continue;
    }
    const value = parseField(problems, at, key as (typeof knownFields)[number], raw);
    if (value !== undefined) out[key] = value;
  }
  if (item.name === undefined) problems.add(childPath(path, 'name'), 'is required');
  if (out.ips !== undefined && out['ipam-claim-reference'] !== undefined) {
    problems.add(
      childPath(path, 'ips'),
      'cannot be combined with "ipam-claim-reference": the claim decides the addresses',
    );
  }
  if (problems.items.length > before) return undefined;
  const { name, namespace, ...rest } = out as { name: string; namespace?: string };
  return {
    name,
    namespace: namespace ?? defaultNamespace,
    ...rest,
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
  };
}

function parseField(
  problems: ProblemList,
  path: string,
  key: (typeof knownFields)[number],
  raw: JsonValue,
): unknown {
  switch (key) {
    case 'name':
      return checkLabel(problems, path, raw);
    case 'namespace':
      return checkLabel(problems, path, raw);
    case 'interface':
      return checkInterface(problems, path, raw);
    case 'ips':
      return checkIpList(problems, path, raw, true);
    case 'default-route':
      return checkIpList(problems, path, raw, false);
    case 'mac':
      return checkHardwareAddress(
        problems,
        path,
        raw,
        6,
        'a MAC address of 6 bytes, e.g. "c2:b0:57:49:47:f1"',
      );
    case 'infiniband-guid':
      return checkHardwareAddress(
        problems,
        path,
        raw,
        8,
        'an InfiniBand GUID of 8 bytes, e.g. "c2:9b:4e:00:00:01:23:45"',
      );
    case 'portMappings':
      return checkPortMappings(problems, path, raw);
    case 'bandwidth':
      return checkBandwidth(problems, path, raw);
    case 'cni-args':
      if (!isObject(raw)) problems.add(path, 'must be an object of CNI arguments');
      return isObject(raw) ? raw : undefined;
    case 'ipam-claim-reference': {
      if (typeof raw !== 'string') {
        problems.add(path, 'must be the name of an IPAMClaim (a string)');
        return undefined;
      }
      const error = dns1123SubdomainError(raw);
      if (error) problems.add(path, error);
      return error ? undefined : raw;
    }
  }
}

function checkLabel(problems: ProblemList, path: string, raw: unknown): string | undefined {
  if (typeof raw !== 'string') {
    problems.add(path, 'must be a string');
    return undefined;
  }
  const error = dns1123LabelError(raw);
  if (error) problems.add(path, error);
  return error ? undefined : raw;
}

function checkInterface(problems: ProblemList, path: string, raw: unknown): string | undefined {
  if (typeof raw !== 'string') {
    problems.add(path, 'must be a string');
    return undefined;
  }
  const error = interfaceNameError(raw);
  if (error) problems.add(path, error);
  return error ? undefined : raw;
}

function checkIpList(
  problems: ProblemList,
  path: string,
  raw: unknown,
  allowPrefix: boolean,
): string[] | undefined {
  const what = allowPrefix
    ? 'IP addresses, optionally with a prefix length ("192.0.2.10/24")'
    : 'gateway IP addresses';
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.add(path, `must be a non-empty list of ${what}`);
    return undefined;
  }
  const before = problems.items.length;
  raw.forEach((entry, i) => {
    const ok =
      typeof entry === 'string' &&
      (allowPrefix ? parseIpWithOptionalPrefix(entry) : parseIp(entry)) !== undefined;
    if (!ok)
      problems.add(
        `${path}[${i}]`,
        `${JSON.stringify(entry)} is not a valid ${allowPrefix ? 'IP address' : 'gateway IP address'}`,
      );
  });
  return problems.items.length > before ? undefined : (raw as string[]);
}

function checkHardwareAddress(
  problems: ProblemList,
  path: string,
  raw: unknown,
  bytes: number,
  what: string,
): string | undefined {
  if (typeof raw !== 'string' || !isHardwareAddress(raw, bytes)) {
    problems.add(path, `${JSON.stringify(raw)} is not ${what}`);
    return undefined;
  }
  return raw;
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function checkPortMappings(problems: ProblemList, path: string, raw: unknown): PortMapping[] | undefined {
  if (!Array.isArray(raw)) {
    problems.add(path, 'must be a list of {hostPort, containerPort, protocol, hostIP}');
    return undefined;
  }
  const before = problems.items.length;
  raw.forEach((entry, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(entry)) {
      problems.add(at, 'must be an object {hostPort, containerPort, protocol, hostIP}');
      return;
    }
    for (const key of Object.keys(entry)) {
      if (!['hostPort', 'containerPort', 'protocol', 'hostIP'].includes(key))
        problems.add(childPath(at, key), 'unknown field');
    }
    for (const key of ['hostPort', 'containerPort'] as const) {
      if (!isPort(entry[key]))
        problems.add(
          childPath(at, key),
          `must be a port number from 1 to 65535 (got ${JSON.stringify(entry[key])})`,
        );
    }
    const protocol = entry.protocol;
    if (protocol !== undefined && (typeof protocol !== 'string' || !protocols.has(protocol.toUpperCase()))) {
      problems.add(childPath(at, 'protocol'), `must be TCP, UDP or SCTP (got ${JSON.stringify(protocol)})`);
    }
    if (
      entry.hostIP !== undefined &&
      (typeof entry.hostIP !== 'string' || parseIp(entry.hostIP) === undefined)
    ) {
      problems.add(childPath(at, 'hostIP'), `${JSON.stringify(entry.hostIP)} is not a valid IP address`);
    }
  });
  return problems.items.length > before ? undefined : raw;
}

function checkBandwidth(problems: ProblemList, path: string, raw: unknown): Bandwidth | undefined {
  if (!isObject(raw)) {
    problems.add(path, 'must be an object {ingressRate, ingressBurst, egressRate, egressBurst}');
    return undefined;
  }
  const before = problems.items.length;
  const fields = ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'];
  for (const [key, value] of Object.entries(raw)) {
    if (!fields.includes(key))
      problems.add(childPath(path, key), `unknown field; known fields are ${fields.join(', ')}`);
    else if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      problems.add(
        childPath(path, key),
        `must be a non-negative integer (bits per second for rates, bits for bursts)`,
      );
    }
  }
  for (const direction of ['ingress', 'egress']) {
    if (raw[`${direction}Burst`] !== undefined && raw[`${direction}Rate`] === undefined) {
      problems.add(
        childPath(path, `${direction}Burst`),
        `needs ${direction}Rate: a burst without a rate has no effect`,
      );
    }
  }
  return problems.items.length > before ? undefined : raw;
}

function checkCrossElementRules(elements: readonly NetworkSelectionElement[], root: string): void {
  const problems = new ProblemList();
  const seen = new Map<string, number>();
  let defaultRouteAt: number | undefined;
  elements.forEach((element, index) => {
    if (element.interface !== undefined) {
      const first = seen.get(element.interface);
      if (first !== undefined) {
        problems.add(
          `${root}[${index}].interface`,
          `${JSON.stringify(element.interface)} is already used by ${root}[${first}]; interface names must be unique in a pod`,
        );
      } else {
        seen.set(element.interface, index);
      }
    }
    if (element['default-route'] !== undefined) {
      if (defaultRouteAt !== undefined) {
        problems.add(
          `${root}[${index}].default-route`,
          `${root}[${defaultRouteAt}] already sets the default route; only one network may`,
        );
      } else {
        defaultRouteAt = index;
      }
    }
  });
  problems.throwIfAny();
}

/** True when the element carries nothing beyond what the comma form can say. */
function isSimple(element: NetworkSelectionElement): boolean {
  return Object.keys(element).every((key) => key === 'name' || key === 'namespace' || key === 'interface');
}

/** The element as it appears in the JSON form (extensions inline again). */
export function toJsonElement(element: NetworkSelectionElement): JsonObject {
  const { extensions, ...fields } = element;
  return { ...(fields as unknown as JsonObject), ...(extensions ?? {}) };
}

/**
 * Prints elements as an annotation value: the comma form when every element is simple, else the JSON
 * form. Parsing the output with the same default namespace gives the same elements back.
 */
export function formatNetworksAnnotation(elements: readonly NetworkSelectionElement[]): string {
  if (elements.every(isSimple)) {
    return elements
      .map((e) => `${e.namespace}/${e.name}${e.interface !== undefined ? `@${e.interface}` : ''}`)
      .join(',');
  }
  return JSON.stringify(elements.map(toJsonElement));
}
