/**
 * What every validator returns: allowed or not, a message that says what to fix, and warnings for
 * things that are legal but suspicious (kubectl prints them as "Warning: ..."). Validators are pure
 * functions of the request and read-only views of the cluster; one adapter turns a Verdict into an
 * AdmissionReview response.
 */
export interface Verdict {
  readonly allowed: boolean;
  /** Why the request was denied (also allowed with a note, rarely). */
  readonly message?: string;
  readonly warnings: readonly string[];
  /** HTTP-like status code of a denial; 403 when not set. */
  readonly code?: number;
}

export function allow(warnings: readonly string[] = []): Verdict {
  return { allowed: true, warnings };
}

export function deny(message: string, warnings: readonly string[] = [], code?: number): Verdict {
  return { allowed: false, message, warnings, ...(code !== undefined ? { code } : {}) };
}
