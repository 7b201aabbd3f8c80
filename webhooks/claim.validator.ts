/**
 * ResourceClaim and ResourceClaimTemplate CREATE: the opaque config a claim gives the DRA driver
 * networks.multinet.io must be a network selection element without name and namespace (the NAD is the
 * device the claim is allocated), checked by lib/dra.ts with the annotation's schema and messages, so a
 * claim the webhook admits is one the agent can prepare. Other drivers' configs are not looked at (the
 * API server sends only claims that name this driver: a CEL match condition).
 */
import { claimSpecProblems, draDriver } from '../lib/dra.ts';
import { formatProblems } from '../lib/errors.ts';
import { isObject } from '../lib/safe-json.ts';
import type { AdmissionRequest } from './admission-review.ts';
import { allow, deny, type Verdict } from './verdict.ts';

export function validateClaim(request: AdmissionRequest): Verdict {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
  const template = request.resource.resource === 'resourceclaimtemplates';
  const object = request.object;
  const outer = isObject(object) ? object.spec : undefined;
  const spec = template ? (isObject(outer) ? outer.spec : undefined) : outer;
  const problems = claimSpecProblems(spec, template ? 'spec.spec' : 'spec');
  if (problems.length === 0) return allow();
  return deny(`the opaque config for ${draDriver} must be a network selection: ${formatProblems(problems)}`);
}
