/**
 * A token bucket (client-go's flowcontrol / golang.org/x/time/rate): `qps` tokens a second, at most
 * `burst` saved up. `reserve()` takes a token now and says how long the caller must wait before using
 * it, so callers queue up in order without polling. Time comes from the caller, so tests need no clock.
 */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;

  /** qps <= 0 means unlimited. */
  constructor(qps: number, burst: number, now: number) {
    this.qps = qps;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.last = now;
  }

  get unlimited(): boolean {
    return this.qps <= 0;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
      this.last = now;
    }
  }

  /** Takes a token; returns how many milliseconds from `now` it becomes valid (0 = use it now). */
  reserve(now: number): number {
    if (this.unlimited) return 0;
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  /** Takes a token only if one is available now. */
  tryTake(now: number): boolean {
    if (this.unlimited) return true;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
