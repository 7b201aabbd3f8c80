/**
 * The address ranges a configuration's host-local IPAM hands out. host-local keeps its allocations
 * per node and per network name, so the same range on several nodes, or in two networks of different
 * names, hands out the same addresses twice.
 */
import type { NetworkConfig } from '../lib/cni/config.ts';
import { childPath } from '../lib/json-path.ts';
import { formatIp, parseCidr, parseIp, prefixLast, type IpFamily } from '../lib/net/ip.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';

export interface HostLocalRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
  /** The JSON path of the IPAM block, for messages. */
  readonly path: string;
}

function rangeOf(range: JsonObject, path: string): HostLocalRange | undefined {
  const subnet = typeof range.subnet === 'string' ? parseCidr(range.subnet) : undefined;
  if (!subnet) return undefined;
  const start = typeof range.rangeStart === 'string' ? parseIp(range.rangeStart) : undefined;
  const end = typeof range.rangeEnd === 'string' ? parseIp(range.rangeEnd) : undefined;
  return {
    family: subnet.family,
    first: start?.value ?? subnet.network,
    last: end?.value ?? prefixLast(subnet),
    path,
  };
}

/** Every host-local range of the configuration (the subnet form and each entry of `ranges`). */
export function hostLocalRanges(config: NetworkConfig, root = 'spec.config'): HostLocalRange[] {
  const out: HostLocalRange[] = [];
  config.plugins.forEach((plugin, index) => {
    const ipam = plugin.ipam;
    if (!isObject(ipam) || ipam.type !== 'host-local') return;
    const path = childPath(
      config.kind === 'conflist' ? `${childPath(root, 'plugins')}[${index}]` : root,
      'ipam',
    );
    const single = ipam.subnet !== undefined ? rangeOf(ipam, path) : undefined;
    if (single) out.push(single);
    if (Array.isArray(ipam.ranges)) {
      for (const set of ipam.ranges) {
        if (!Array.isArray(set)) continue;
        for (const range of set) {
          const parsed = isObject(range) ? rangeOf(range, path) : undefined;
          if (parsed) out.push(parsed);
        }
      }
    }
  });
  return out;
}

/** True when the configuration uses host-local IPAM at all (ranges may also come from the runtime). */
export function usesHostLocal(config: NetworkConfig): boolean {
  return config.plugins.some((p) => isObject(p.ipam) && p.ipam.type === 'host-local');
}

export function rangesOverlap(a: HostLocalRange, b: HostLocalRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function formatRange(range: HostLocalRange): string {
  return `${formatIp({ family: range.family, value: range.first })}-${formatIp({ family: range.family, value: range.last })}`;
}
