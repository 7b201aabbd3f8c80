/** CNI spec versions multinet speaks, for configs, results and the runtime protocol. */
export const supportedCniVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof supportedCniVersions)[number];

/** The version multinet answers in when it is free to choose. */
export const latestCniVersion: CniVersion = '1.1.0';

export function isSupportedCniVersion(version: unknown): version is CniVersion {
  return typeof version === 'string' && (supportedCniVersions as readonly string[]).includes(version);
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True for 1.0.0 and later: results without ips[].version, CHECK/STATUS/GC semantics. */
export function isV1(version: string): boolean {
  return compareVersions(version, '1.0.0') >= 0;
}

/** CHECK exists from 0.4.0 on; STATUS and GC from 1.1.0 on. */
export function supportsCheck(version: string): boolean {
  return compareVersions(version, '0.4.0') >= 0;
}

export function supportsStatusAndGc(version: string): boolean {
  return compareVersions(version, '1.1.0') >= 0;
}
