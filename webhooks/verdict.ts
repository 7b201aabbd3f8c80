/**
 * What every validator returns: allowed or not, a message that says what to fix, and warnings for
 * things that are legal but suspicious (kubectl prints them as "Warning: ..."); a mutating endpoint's
 * verdict also carries its JSON patch. Validators are pure functions of the request and read-only views
 * of the cluster; one adapter turns a Verdict into an AdmissionReview response.
 */
import type { JsonValue } from '../lib/safe-json.ts';

/** One RFC 6902 operation of a mutating webhook's patch (multinet only adds). */
export interface JsonPatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: JsonValue;
}

export interface Verdict {
  readonly allowed: boolean;
  /** Why the request was denied (also allowed with a note, rarely). */
  readonly message?: string;
  readonly warnings: readonly string[];
  /** HTTP-like status code of a denial; 403 when not set. */
  readonly code?: number;
  /** Changes to the object (mutating endpoints, allowed verdicts only). */
  readonly patch?: readonly JsonPatchOperation[];
}

export function allow(warnings: readonly string[] = []): Verdict {
  return { allowed: true, warnings };
}

export function deny(message: string, warnings: readonly string[] = [], code?: number): Verdict {
  return { allowed: false, message, warnings, ...(code !== undefined ? { code } : {}) };
}
