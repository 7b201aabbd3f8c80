/**
 * Typed schemas of the CNI reference plugins (containernetworking/plugins) and the common IPAM
 * plugins. Only the plugin-specific fields are listed; the common fields come from common.ts.
 * Plugins not listed here are accepted with their common fields checked.
 */
import { routeSchema, stringList, type Schema } from './common.ts';

const mtu: Schema = { type: 'integer', minimum: 0, maximum: 65535 };
const bool: Schema = { type: 'boolean' };
const str: Schema = { type: 'string' };
const rate: Schema = { type: 'integer', minimum: 0 };
const vlanId: Schema = { type: 'integer', minimum: 0, maximum: 4094 };

export const pluginSchemas: Readonly<Record<string, Schema>> = {
  // flannel-io/cni-plugin: delegates to bridge (by default) with IPAM from flanneld's subnet.env.
  flannel: {
    subnetFile: str,
    dataDir: str,
    delegate: { type: 'object' },
    runtimeConfig: { type: 'object' },
  },
  bridge: {
    bridge: str,
    isGateway: bool,
    isDefaultGateway: bool,
    forceAddress: bool,
    ipMasq: bool,
    ipMasqBackend: { type: 'string', enum: ['iptables', 'nftables'] },
    mtu,
    hairpinMode: bool,
    promiscMode: bool,
    vlan: vlanId,
    vlanTrunk: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: vlanId, minID: vlanId, maxID: vlanId },
      },
    },
    preserveDefaultVlan: bool,
    macspoofchk: bool,
    enabledad: bool,
    disableContainerInterface: bool,
    portIsolation: bool,
    mac: str,
  },
  macvlan: {
    master: str,
    mode: { type: 'string', enum: ['bridge', 'private', 'vepa', 'passthru', 'source'] },
    mtu,
    mac: str,
    linkInContainer: bool,
    bcqueuelen: { type: 'integer', minimum: 0 },
  },
  ipvlan: {
    master: str,
    mode: { type: 'string', enum: ['l2', 'l3', 'l3s'] },
    mtu,
    linkInContainer: bool,
  },
  'host-device': {
    device: str,
    hwaddr: str,
    kernelpath: str,
    pciBusID: str,
  },
  ptp: {
    ipMasq: bool,
    ipMasqBackend: { type: 'string', enum: ['iptables', 'nftables'] },
    mtu,
  },
  vlan: {
    master: str,
    vlanId,
    mtu,
    linkInContainer: bool,
  },
  tuning: {
    mtu,
    mac: str,
    promisc: bool,
    allmulti: bool,
    txQLen: { type: 'integer', minimum: 0 },
    sysctl: { type: 'object', additionalProperties: { type: 'string' } },
  },
  portmap: {
    snat: bool,
    markMasqBit: { type: 'integer', minimum: 0, maximum: 31 },
    externalSetMarkChain: str,
    conditionsV4: stringList,
    conditionsV6: stringList,
    masqAll: bool,
    backend: { type: 'string', enum: ['iptables', 'nftables'] },
  },
  bandwidth: {
    ingressRate: rate,
    ingressBurst: rate,
    egressRate: rate,
    egressBurst: rate,
    unshapedSubnets: stringList,
    shapedSubnets: stringList,
  },
  sbr: {
    table: { type: 'integer', minimum: 0 },
  },
  vrf: {
    vrfname: { type: 'string', minLength: 1, maxLength: 15 },
    table: { type: 'integer', minimum: 0 },
  },
  firewall: {
    backend: { type: 'string', enum: ['iptables', 'firewalld'] },
    iptablesAdminChainName: str,
    firewalldZone: str,
    ingressPolicy: { type: 'string', enum: ['open', 'same-bridge', 'isolated'] },
  },
  loopback: {},
};

/** Fields a typed plugin must have, beyond `type`. */
/**
 * Plugins whose `ipam` is a part that they complete for the plugin they delegate to (Flannel fills in
 * host-local's type, ranges and routes from its subnet.env): it needs no type and has no ranges of its own.
 */
export const ipamCompletingPlugins: ReadonlySet<string> = new Set(['flannel']);

export const pluginRequired: Readonly<Record<string, readonly string[]>> = {
  vlan: ['vlanId'],
  vrf: ['vrfname'],
};

const range: Schema = {
  type: 'object',
  required: ['subnet'],
  properties: { subnet: str, rangeStart: str, rangeEnd: str, gateway: str },
};

const whereaboutsRange: Schema = {
  type: 'object',
  required: ['range'],
  properties: { range: str, range_start: str, range_end: str, exclude: stringList },
};

export const ipamSchemas: Readonly<Record<string, Schema>> = {
  'host-local': {
    subnet: str,
    rangeStart: str,
    rangeEnd: str,
    gateway: str,
    ranges: { type: 'array', minItems: 1, items: { type: 'array', minItems: 1, items: range } },
    routes: { type: 'array', items: routeSchema },
    dataDir: str,
    resolvConf: str,
  },
  static: {
    addresses: {
      type: 'array',
      items: { type: 'object', required: ['address'], properties: { address: str, gateway: str } },
    },
    routes: { type: 'array', items: routeSchema },
    dns: {
      type: 'object',
      properties: { nameservers: stringList, domain: str, search: stringList, options: stringList },
    },
  },
  dhcp: {
    daemonSocketPath: str,
    request: { type: 'array', items: { type: 'object' } },
    provide: { type: 'array', items: { type: 'object' } },
    timeout: str,
    resendMax: str,
    broadcast: bool,
    priority: { type: 'integer' },
  },
  whereabouts: {
    range: str,
    range_start: str,
    range_end: str,
    exclude: stringList,
    gateway: str,
    routes: { type: 'array', items: routeSchema },
    ipRanges: { type: 'array', items: whereaboutsRange },
    network_name: str,
    enable_overlapping_ranges: bool,
    sleep_for_race: { type: 'integer', minimum: 0 },
    leader_lease_duration: { type: 'integer', minimum: 0 },
    leader_renew_deadline: { type: 'integer', minimum: 0 },
    leader_retry_period: { type: 'integer', minimum: 0 },
    reconciler_cron_expression: str,
    log_file: str,
    log_level: { type: 'string', enum: ['debug', 'verbose', 'error', 'panic'] },
    configuration_path: str,
    kubernetes: { type: 'object', properties: { kubeconfig: str, k8s_api_root: str } },
    datastore: str,
    etcd_host: str,
    etcd_username: str,
    etcd_password: str,
    etcd_key_file: str,
    etcd_cert_file: str,
    etcd_ca_cert_file: str,
    podname: str,
    podnamespace: str,
    node_slice_size: str,
  },
};
