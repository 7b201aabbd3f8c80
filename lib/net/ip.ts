/** IPv4/IPv6 addresses and prefixes as numbers, strictly parsed (as Go's net.ParseIP/ParseCIDR do). */
export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface IpPrefix {
  readonly family: IpFamily;
  /** The address as written (host bits may be set, as in "192.0.2.5/24"). */
  readonly address: bigint;
  readonly prefixLength: number;
  /** The network address (host bits cleared). */
  readonly network: bigint;
}

const octet = /^(0|[1-9][0-9]{0,2})$/;
const hextet = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!octet.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseHextets(text: string): bigint[] | undefined {
  if (text === '') return [];
  const groups = text.split(':');
  const out: bigint[] = [];
  for (const [i, group] of groups.entries()) {
    if (i === groups.length - 1 && group.includes('.')) {
      const v4 = parseIPv4(group);
      if (v4 === undefined) return undefined;
      out.push(v4 >> 16n, v4 & 0xffffn);
    } else if (hextet.test(group)) {
      out.push(BigInt(parseInt(group, 16)));
    } else {
      return undefined;
    }
  }
  return out;
}

function parseIPv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseHextets(halves[0]!);
  const tail = halves.length === 2 ? parseHextets(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<bigint>(Math.max(missing, 0)).fill(0n), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

export function parseIp(text: string): IpAddress | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

export function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function mask(family: IpFamily, prefixLength: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefixLength))) & all;
}

export function parseCidr(text: string): IpPrefix | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > bitsOf(ip.family)) return undefined;
  return {
    family: ip.family,
    address: ip.value,
    prefixLength,
    network: ip.value & mask(ip.family, prefixLength),
  };
}

/** An address with an optional prefix ("192.0.2.1" or "192.0.2.1/24"), as the ips selection field allows. */
export function parseIpWithOptionalPrefix(text: string): IpAddress | undefined {
  if (typeof text === 'string' && text.includes('/')) {
    const prefix = parseCidr(text);
    return prefix === undefined ? undefined : { family: prefix.family, value: prefix.address };
  }
  return parseIp(text);
}

export function prefixContains(prefix: IpPrefix, ip: IpAddress): boolean {
  return (
    prefix.family === ip.family && (ip.value & mask(prefix.family, prefix.prefixLength)) === prefix.network
  );
}

export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const m = mask(a.family, shorter);
  return (a.network & m) === (b.network & m);
}

/** The last address of a prefix (its broadcast address for IPv4). */
export function prefixLast(prefix: IpPrefix): bigint {
  const bits = BigInt(bitsOf(prefix.family));
  return prefix.network | (((1n << bits) - 1n) >> BigInt(prefix.prefixLength));
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((ip.value >> shift) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
