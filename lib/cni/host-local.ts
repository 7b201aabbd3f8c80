/**
 * host-local IPAM's ranges: the one walk over its two forms (the single `subnet` form, and `ranges`,
 * a list of range sets, each a list of ranges), for the semantic checks (semantics.ts) and for the
 * address ranges a configuration hands out (the webhook's overlap warnings). host-local keeps its
 * allocations per node and per network name, so the same range on several nodes, or in two networks
 * of different names, hands out the same addresses twice.
 */
import { childPath } from '../json-path.ts';
import { formatIp, parseCidr, parseIp, prefixLast, type IpFamily } from '../net/ip.ts';
import { isObject, type JsonObject } from '../safe-json.ts';

/** What these functions read of a validated NetworkConfig (config.ts, which imports this module). */
interface PluginList {
  readonly kind: 'conf' | 'conflist';
  readonly plugins: readonly JsonObject[];
}

/** One range set of a host-local IPAM block, with the JSON paths of the set and of each range. */
export interface HostLocalRangeSet {
  readonly path: string;
  readonly ranges: ReadonlyArray<{ readonly range: JsonObject; readonly path: string }>;
}

/**
 * The range sets of a host-local IPAM block at `path`: the block itself when it has a `subnet` (its
 * one range has the block's path), then each entry of `ranges` (`path.ranges[i]`, ranges `[i][j]`).
 */
export function hostLocalRangeSets(ipam: JsonObject, path: string): HostLocalRangeSet[] {
  const sets: HostLocalRangeSet[] = [];
  if (ipam.subnet !== undefined) sets.push({ path, ranges: [{ range: ipam, path }] });
  if (Array.isArray(ipam.ranges)) {
    ipam.ranges.forEach((set, i) => {
      if (!Array.isArray(set)) return;
      const setPath = `${childPath(path, 'ranges')}[${i}]`;
      const ranges = set.flatMap((range, j) =>
        isObject(range) ? [{ range, path: `${setPath}[${j}]` }] : [],
      );
      sets.push({ path: setPath, ranges });
    });
  }
  return sets;
}

/** True when the configuration uses host-local IPAM at all (ranges may also come from the runtime). */
export function usesHostLocal(config: PluginList): boolean {
  return config.plugins.some((p) => isObject(p.ipam) && p.ipam.type === 'host-local');
}

/** An address range a configuration's host-local IPAM hands out. */
export interface HostLocalRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
  /** The JSON path of the IPAM block, for messages. */
  readonly path: string;
}

function addressRange(range: JsonObject, path: string): HostLocalRange | undefined {
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

/** Every host-local address range of the configuration (the subnet form and each entry of `ranges`). */
export function hostLocalRanges(config: PluginList, root = 'spec.config'): HostLocalRange[] {
  const out: HostLocalRange[] = [];
  config.plugins.forEach((plugin, index) => {
    const ipam = plugin.ipam;
    if (!isObject(ipam) || ipam.type !== 'host-local') return;
    const path = childPath(
      config.kind === 'conflist' ? `${childPath(root, 'plugins')}[${index}]` : root,
      'ipam',
    );
    for (const set of hostLocalRangeSets(ipam, path))
      for (const { range } of set.ranges) {
        const parsed = addressRange(range, path);
        if (parsed) out.push(parsed);
      }
  });
  return out;
}

export function rangesOverlap(a: HostLocalRange, b: HostLocalRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function formatRange(range: HostLocalRange): string {
  return `${formatIp({ family: range.family, value: range.first })}-${formatIp({ family: range.family, value: range.last })}`;
}
