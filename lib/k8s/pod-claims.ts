/** A pod's ResourceClaims (core/v1 spec.resourceClaims and status.resourceClaimStatuses). */
import { isObject } from '../safe-json.ts';

/**
 * The names of a pod's ResourceClaims, in the order of spec.resourceClaims: a claim it names, or the
 * one made for it from a template (status.resourceClaimStatuses; none while it is not made yet).
 */
export function podClaimNames(pod: unknown): string[] {
  const spec = isObject(pod) && isObject(pod.spec) ? pod.spec : undefined;
  const status = isObject(pod) && isObject(pod.status) ? pod.status : undefined;
  const made = new Map<string, string>();
  for (const entry of Array.isArray(status?.resourceClaimStatuses) ? status.resourceClaimStatuses : []) {
    if (isObject(entry) && typeof entry.name === 'string' && typeof entry.resourceClaimName === 'string')
      made.set(entry.name, entry.resourceClaimName);
  }
  const names: string[] = [];
  for (const claim of Array.isArray(spec?.resourceClaims) ? spec.resourceClaims : []) {
    if (!isObject(claim) || typeof claim.name !== 'string') continue;
    const name = typeof claim.resourceClaimName === 'string' ? claim.resourceClaimName : made.get(claim.name);
    if (name) names.push(name);
  }
  return names;
}
