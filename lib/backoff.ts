/**
 * Exponential backoff, the one formula every retry loop uses (work queue, informer restarts, the
 * webhook's certificate setup, network-status writes): base * 2^failures, capped at max.
 */
export interface BackoffPolicy {
  /** The delay after the first failure. */
  readonly baseMs: number;
  /** The largest delay. */
  readonly maxMs: number;
}

/** The delay before the next try after `failures` failures in a row (0 failures: baseMs). */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  return Math.min(policy.baseMs * 2 ** Math.min(Math.max(0, failures), 40), policy.maxMs);
}

/** Counts failures in a row; delay() gives the wait before the next try, reset() starts over. */
export class Backoff {
  private failures = 0;
  private readonly policy: BackoffPolicy;

  constructor(policy: BackoffPolicy) {
    this.policy = policy;
  }

  /** The delay for this failure; the next one waits twice as long, up to maxMs. */
  next(): number {
    return backoffDelay(this.failures++, this.policy);
  }

  /** What next() would return, without counting a failure. */
  peek(): number {
    return backoffDelay(this.failures, this.policy);
  }

  reset(): void {
    this.failures = 0;
  }
}
