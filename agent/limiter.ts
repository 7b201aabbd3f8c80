/**
 * Bounds on the agent's concurrent work (Multus' daemon had none): at most `concurrency` CNI requests
 * run at once, at most `maxQueued` wait, and requests for the same key (container) never overlap.
 *
 * Lock order, the one rule that keeps this free of deadlocks: a unit of work takes its key's turn,
 * then a slot, and holds both only while it runs; it never waits for another turn or slot while it
 * holds one. Work that spans several keys (GC) is several units, run one after another.
 */
export class QueueFullError extends Error {
  constructor(limit: number) {
    super(`too many CNI requests waiting (${limit}); try again later`);
    this.name = 'QueueFullError';
  }
}

export class WorkLimiter {
  private concurrency: number;
  private readonly maxQueued: number;
  private running = 0;
  private pending = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly tails = new Map<string, Promise<void>>();

  constructor(concurrency: number, maxQueued: number) {
    this.concurrency = concurrency;
    this.maxQueued = maxQueued;
  }

  /** How many units of work may run at once. */
  get limit(): number {
    return this.concurrency;
  }

  /**
   * Changes how many units may run at once: more start at once, fewer once running ones have finished
   * (nothing running is stopped).
   */
  resize(concurrency: number): void {
    this.concurrency = Math.max(1, concurrency);
    while (this.running < this.concurrency && this.waiting.length > 0) {
      this.running++;
      this.waiting.shift()!();
    }
  }

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: Math.max(0, this.pending - this.running) };
  }

  /**
   * Runs fn after earlier work for the same key finished and a slot is free. fn must not wait for
   * other work of this limiter (it holds a turn and a slot that work may need).
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.pending >= this.concurrency + this.maxQueued) throw new QueueFullError(this.maxQueued);
    this.pending++;
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await previous;
      await this.acquire();
      try {
        return await fn();
      } finally {
        this.releaseSlot();
      }
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
      this.pending--;
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private releaseSlot(): void {
    const next = this.running <= this.concurrency ? this.waiting.shift() : undefined;
    if (next) next();
    else this.running--;
  }
}
