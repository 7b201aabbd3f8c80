/**
 * Semantic checks that a JSON schema cannot express: addresses that must parse, ranges that must lie
 * inside their subnet and be ordered, families that must match, names the kernel will take. Run
 * after the plugin's schema passed, so field types are known to be right.
 */
import { interfaceNameError } from '../annotations/interface-name.ts';
import type { Problem, ProblemList } from '../errors.ts';
import { childPath } from '../json-path.ts';
import { isHardwareAddress } from '../net/hwaddr.ts';
import {
  bitsOf,
  parseCidr,
  parseIp,
  prefixContains,
  prefixesOverlap,
  type IpAddress,
  type IpPrefix,
} from '../net/ip.ts';
import { isObject, type JsonObject } from '../safe-json.ts';
import { hostLocalRangeSets } from './host-local.ts';

function checkInterfaceName(value: unknown, path: string, problems: ProblemList): void {
  if (typeof value !== 'string') return;
  const error = interfaceNameError(value);
  if (error) problems.add(path, error);
}

function checkMac(value: unknown, path: string, problems: ProblemList): void {
  if (typeof value === 'string' && !isHardwareAddress(value, 6)) {
    problems.add(path, `${JSON.stringify(value)} is not a MAC address of 6 bytes, e.g. "c2:b0:57:49:47:f1"`);
  }
}

function ipAt(
  value: unknown,
  path: string,
  problems: ProblemList,
  what = 'an IP address',
): IpAddress | undefined {
  if (typeof value !== 'string') return undefined;
  const ip = parseIp(value);
  if (!ip) problems.add(path, `${JSON.stringify(value)} is not ${what}`);
  return ip;
}

function cidrAt(value: unknown, path: string, problems: ProblemList): IpPrefix | undefined {
  if (typeof value !== 'string') return undefined;
  const prefix = parseCidr(value);
  if (!prefix)
    problems.add(path, `${JSON.stringify(value)} is not a CIDR such as "192.0.2.0/24" or "2001:db8::/64"`);
  return prefix;
}

function checkCidrList(value: unknown, path: string, problems: ProblemList): void {
  if (Array.isArray(value)) value.forEach((entry, i) => cidrAt(entry, `${path}[${i}]`, problems));
}

export function checkPluginSemantics(
  type: string,
  plugin: JsonObject,
  path: string,
  problems: ProblemList,
  warnings: Problem[],
): void {
  if (isObject(plugin.dns) && Array.isArray(plugin.dns.nameservers)) {
    plugin.dns.nameservers.forEach((ns, i) =>
      ipAt(ns, `${childPath(childPath(path, 'dns'), 'nameservers')}[${i}]`, problems),
    );
  }
  switch (type) {
    case 'macvlan':
    case 'ipvlan':
    case 'vlan':
      checkInterfaceName(plugin.master, childPath(path, 'master'), problems);
      checkMac(plugin.mac, childPath(path, 'mac'), problems);
      break;
    case 'bridge':
      checkInterfaceName(plugin.bridge, childPath(path, 'bridge'), problems);
      checkMac(plugin.mac, childPath(path, 'mac'), problems);
      if (Array.isArray(plugin.vlanTrunk)) {
        plugin.vlanTrunk.forEach((trunk, i) => {
          if (!isObject(trunk)) return;
          const at = `${childPath(path, 'vlanTrunk')}[${i}]`;
          const hasId = trunk.id !== undefined;
          const hasRange = trunk.minID !== undefined || trunk.maxID !== undefined;
          if (hasId === hasRange) problems.add(at, 'must set either "id" or both "minID" and "maxID"');
          else if (
            hasRange &&
            !(
              typeof trunk.minID === 'number' &&
              typeof trunk.maxID === 'number' &&
              trunk.minID <= trunk.maxID
            )
          ) {
            problems.add(at, '"minID" and "maxID" are both required and minID must not exceed maxID');
          }
        });
      }
      break;
    case 'host-device': {
      checkInterfaceName(plugin.device, childPath(path, 'device'), problems);
      checkMac(plugin.hwaddr, childPath(path, 'hwaddr'), problems);
      const selectors = ['device', 'hwaddr', 'kernelpath', 'pciBusID'].filter((k) => plugin[k] !== undefined);
      if (selectors.length > 1) {
        problems.add(
          path,
          `set only one of device, hwaddr, kernelpath, pciBusID (got ${selectors.join(', ')})`,
        );
      }
      const runtimeDevice = isObject(plugin.capabilities) && plugin.capabilities.deviceID === true;
      if (selectors.length === 0 && !runtimeDevice) {
        warnings.push({
          path,
          message:
            'none of device, hwaddr, kernelpath, pciBusID is set: the plugin fails unless a device plugin passes a deviceID',
        });
      }
      break;
    }
    case 'tuning':
      checkMac(plugin.mac, childPath(path, 'mac'), problems);
      if (isObject(plugin.sysctl)) {
        for (const key of Object.keys(plugin.sysctl)) {
          if (!key.startsWith('net.'))
            problems.add(
              childPath(childPath(path, 'sysctl'), key),
              'only net.* sysctls may be set by the tuning plugin',
            );
        }
      }
      break;
    case 'bandwidth':
      for (const direction of ['ingress', 'egress']) {
        const rateValue = plugin[`${direction}Rate`];
        const burst = plugin[`${direction}Burst`];
        const hasRate = typeof rateValue === 'number' && rateValue > 0;
        const hasBurst = typeof burst === 'number' && burst > 0;
        if (hasRate !== hasBurst) {
          problems.add(
            childPath(path, hasRate ? `${direction}Burst` : `${direction}Rate`),
            `${direction}Rate and ${direction}Burst must be set together (both greater than zero)`,
          );
        }
      }
      checkCidrList(plugin.shapedSubnets, childPath(path, 'shapedSubnets'), problems);
      checkCidrList(plugin.unshapedSubnets, childPath(path, 'unshapedSubnets'), problems);
      if (plugin.shapedSubnets !== undefined && plugin.unshapedSubnets !== undefined) {
        problems.add(childPath(path, 'shapedSubnets'), 'cannot be combined with unshapedSubnets');
      }
      break;
    case 'vrf':
      checkInterfaceName(plugin.vrfname, childPath(path, 'vrfname'), problems);
      break;
  }
}

function checkRoutes(routes: unknown, path: string, problems: ProblemList): void {
  if (!Array.isArray(routes)) return;
  routes.forEach((route, i) => {
    if (!isObject(route)) return;
    const at = `${path}[${i}]`;
    const dst = cidrAt(route.dst, childPath(at, 'dst'), problems);
    const gw = ipAt(route.gw, childPath(at, 'gw'), problems, 'a gateway IP address');
    if (dst && gw && dst.family !== gw.family) {
      problems.add(
        childPath(at, 'gw'),
        `is an IPv${gw.family} address but dst ${JSON.stringify(route.dst)} is IPv${dst.family}`,
      );
    }
  });
}

interface CheckedRange {
  readonly subnet: IpPrefix;
  readonly path: string;
}

/** One host-local range {subnet, rangeStart, rangeEnd, gateway}. */
function checkHostLocalRange(
  range: JsonObject,
  path: string,
  problems: ProblemList,
  warnings: Problem[],
): CheckedRange | undefined {
  const subnet = cidrAt(range.subnet, childPath(path, 'subnet'), problems);
  if (!subnet) return undefined;
  if (subnet.address !== subnet.network) {
    warnings.push({
      path: childPath(path, 'subnet'),
      message: `${JSON.stringify(range.subnet)} has host bits set; the network address is used`,
    });
  }
  const tooSmall = bitsOf(subnet.family) - subnet.prefixLength < 2;
  if (tooSmall) {
    problems.add(
      childPath(path, 'subnet'),
      `${JSON.stringify(range.subnet)} is too small to allocate addresses from`,
    );
  }
  const inside = (key: 'rangeStart' | 'rangeEnd' | 'gateway'): IpAddress | undefined => {
    const ip = ipAt(range[key], childPath(path, key), problems);
    if (ip && !prefixContains(subnet, ip)) {
      problems.add(
        childPath(path, key),
        `${JSON.stringify(range[key])} is not inside subnet ${JSON.stringify(range.subnet)}`,
      );
      return undefined;
    }
    return ip;
  };
  const start = inside('rangeStart');
  const end = inside('rangeEnd');
  inside('gateway');
  if (start && end && start.value > end.value) {
    problems.add(
      childPath(path, 'rangeStart'),
      `${JSON.stringify(range.rangeStart)} comes after rangeEnd ${JSON.stringify(range.rangeEnd)}`,
    );
  }
  return { subnet, path };
}

function checkHostLocal(
  ipam: JsonObject,
  plugin: JsonObject,
  path: string,
  problems: ProblemList,
  warnings: Problem[],
): void {
  const sets = hostLocalRangeSets(ipam, path);
  const fromRuntime = isObject(plugin.capabilities) && plugin.capabilities.ipRanges === true;
  if (sets.length === 0 && !fromRuntime) {
    problems.add(
      path,
      'host-local needs "subnet" or "ranges" (or the ipRanges capability): it has nothing to allocate from',
    );
  }
  const all: CheckedRange[] = [];
  for (const set of sets) {
    const checked = set.ranges
      .map(({ range, path: at }) => checkHostLocalRange(range, at, problems, warnings))
      .filter((r): r is CheckedRange => r !== undefined);
    const families = new Set(checked.map((r) => r.subnet.family));
    if (families.size > 1)
      problems.add(set.path, 'mixes IPv4 and IPv6 subnets in one range set; use one range set per family');
    all.push(...checked);
  }
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      if (prefixesOverlap(all[i]!.subnet, all[j]!.subnet)) {
        problems.add(childPath(all[j]!.path, 'subnet'), `overlaps the subnet at ${all[i]!.path}`);
      }
    }
  }
  checkRoutes(ipam.routes, childPath(path, 'routes'), problems);
}

function checkStatic(ipam: JsonObject, path: string, problems: ProblemList): void {
  if (Array.isArray(ipam.addresses)) {
    ipam.addresses.forEach((entry, i) => {
      if (!isObject(entry)) return;
      const at = `${childPath(path, 'addresses')}[${i}]`;
      const address = cidrAt(entry.address, childPath(at, 'address'), problems);
      const gateway = ipAt(entry.gateway, childPath(at, 'gateway'), problems);
      if (address && gateway && address.family !== gateway.family) {
        problems.add(
          childPath(at, 'gateway'),
          `is IPv${gateway.family} but the address is IPv${address.family}`,
        );
      }
    });
  }
  if (isObject(ipam.dns) && Array.isArray(ipam.dns.nameservers)) {
    ipam.dns.nameservers.forEach((ns, i) =>
      ipAt(ns, `${childPath(childPath(path, 'dns'), 'nameservers')}[${i}]`, problems),
    );
  }
  checkRoutes(ipam.routes, childPath(path, 'routes'), problems);
}

/** whereabouts accepts "192.0.2.0/24" and the range form "192.0.2.10-192.0.2.20/24". */
function checkWhereaboutsRange(entry: JsonObject, path: string, problems: ProblemList): void {
  const text = entry.range;
  if (typeof text !== 'string') return;
  const dash = /^([^-/]+)-([^/]+)(\/\d+)$/.exec(text);
  const subnet = dash ? parseCidr(`${dash[1]}${dash[3]}`) : parseCidr(text);
  if (!subnet) {
    problems.add(
      childPath(path, 'range'),
      `${JSON.stringify(text)} is not a CIDR ("192.0.2.0/24") or range ("192.0.2.10-192.0.2.20/24")`,
    );
    return;
  }
  const bounds: Array<[string, unknown]> = [
    ['range_start', entry.range_start],
    ['range_end', entry.range_end],
  ];
  if (dash) bounds.push(['range', dash[2]]);
  for (const [key, value] of bounds) {
    const ip = ipAt(value, childPath(path, key), problems);
    if (ip && !prefixContains(subnet, ip))
      problems.add(childPath(path, key), `${JSON.stringify(value)} is not inside ${JSON.stringify(text)}`);
  }
  checkCidrList(entry.exclude, childPath(path, 'exclude'), problems);
}

export function checkIpamSemantics(
  type: string,
  ipam: JsonObject,
  plugin: JsonObject,
  path: string,
  problems: ProblemList,
  warnings: Problem[],
): void {
  switch (type) {
    case 'host-local':
      checkHostLocal(ipam, plugin, path, problems, warnings);
      break;
    case 'static':
      checkStatic(ipam, path, problems);
      break;
    case 'whereabouts':
      if (ipam.range === undefined && ipam.ipRanges === undefined) {
        problems.add(path, 'whereabouts needs "range" or "ipRanges"');
      }
      checkWhereaboutsRange(ipam, path, problems);
      if (Array.isArray(ipam.ipRanges)) {
        ipam.ipRanges.forEach(
          (r, i) => isObject(r) && checkWhereaboutsRange(r, `${childPath(path, 'ipRanges')}[${i}]`, problems),
        );
      }
      ipAt(ipam.gateway, childPath(path, 'gateway'), problems);
      checkRoutes(ipam.routes, childPath(path, 'routes'), problems);
      break;
  }
}
