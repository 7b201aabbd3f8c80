import { ControllerRunner, TerminalError, type ReconcileResult, type RunnerMetrics } from './runner.ts';
import { ManualScheduler } from '../test/doubles/manual-scheduler.ts';
import { silentLog as log } from '../test/doubles/nad-world.ts';

/** A reconciler whose answer per key the test sets; it records each call. */
class ScriptedReconciler {
  readonly calls: string[] = [];
  readonly answers = new Map<string, Array<(signal: AbortSignal) => Promise<ReconcileResult>>>();
  inFlight = 0;
  maxInFlightPerKey = new Map<string, number>();
  private readonly perKey = new Map<string, number>();
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];

  /** Resolves once reconcile has been called `count` times (a reconcile that hangs is a call too). */
  called(count: number): Promise<void> {
    if (this.calls.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** The next answers for key, in order; afterwards it answers "done". */
  script(key: string, ...answers: Array<(signal: AbortSignal) => Promise<ReconcileResult>>): void {
    this.answers.set(key, answers);
  }

  async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    this.calls.push(key);
    for (const w of this.waiters.filter((w) => this.calls.length >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
    const running = (this.perKey.get(key) ?? 0) + 1;
    this.perKey.set(key, running);
    this.maxInFlightPerKey.set(key, Math.max(running, this.maxInFlightPerKey.get(key) ?? 0));
    try {
      const next = this.answers.get(key)?.shift();
      return next ? await next(signal) : { outcome: 'done' };
    } finally {
      this.perKey.set(key, running - 1);
    }
  }
}

class RecordingMetrics implements RunnerMetrics {
  readonly results: string[] = [];
  adds = 0;
  retries = 0;
  errors = 0;
  readonly queueAdds = { inc: (): void => void this.adds++ };
  readonly queueRetries = { inc: (): void => void this.retries++ };
  readonly queueWait = { observe: (): void => undefined };
  readonly reconcileDuration = {
    observe: (labels: { result: string }): void => void this.results.push(labels.result),
  };
  readonly reconcileErrors = { inc: (): void => void this.errors++ };
}

const fail = (message: string) => (): Promise<ReconcileResult> => Promise.reject(new Error(message));
const answer = (result: ReconcileResult) => (): Promise<ReconcileResult> => Promise.resolve(result);

interface Harness {
  readonly reconciler: ScriptedReconciler;
  readonly runner: ControllerRunner;
  readonly scheduler: ManualScheduler;
  readonly metrics: RecordingMetrics;
  readonly keys: string[];
  start(): void;
  stop(): Promise<void>;
  /** Lets the workers take every queued key and finish. */
  settle(): Promise<void>;
}

function harness(
  options: { keys?: string[]; workers?: number; accepts?: (key: string) => boolean } = {},
): Harness {
  const reconciler = new ScriptedReconciler();
  const scheduler = new ManualScheduler();
  const metrics = new RecordingMetrics();
  const keys = options.keys ?? [];
  const runner = new ControllerRunner(reconciler, {
    kind: 'thing',
    workers: options.workers ?? 2,
    keys: () => keys,
    log,
    metrics,
    scheduler,
    resyncIntervalMs: 60_000,
    ...(options.accepts ? { accepts: options.accepts } : {}),
  });
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  return {
    reconciler,
    runner,
    scheduler,
    metrics,
    keys,
    start: () => void (running = runner.run(stop.signal)),
    stop: async () => {
      stop.abort();
      await running;
    },
    settle: () => runner.idle(),
  };
}

describe('ControllerRunner', () => {
  it('reconciles every key when it starts, and nothing before', async () => {
    const h = harness({ keys: ['a', 'b', 'c'] });
    h.runner.enqueue('early'); // not running yet: ignored
    expect(h.runner.running).toBe(false);
    h.start();
    expect(h.runner.running).toBe(true);
    await h.settle();
    expect(h.reconciler.calls.sort()).toEqual(['a', 'b', 'c']);
    expect(h.metrics.results).toEqual(['done', 'done', 'done']);
    await h.stop();
    expect(h.runner.running).toBe(false);
  });

  it('comes back to a key after requeueAfterMs, not before', async () => {
    const h = harness({ keys: ['a'] });
    h.reconciler.script('a', answer({ outcome: 'deferred', requeueAfterMs: 500 }));
    h.start();
    await h.settle();
    expect(h.reconciler.calls).toEqual(['a']);
    h.scheduler.advance(499);
    await h.settle();
    expect(h.reconciler.calls).toEqual(['a']);
    h.scheduler.advance(1);
    await h.settle();
    expect(h.reconciler.calls).toEqual(['a', 'a']);
    expect(h.metrics.results).toEqual(['deferred', 'done']);
    await h.stop();
  });

  it('retries a failing key with exponential backoff and forgets the failures once it succeeds', async () => {
    const h = harness({ keys: ['a'] });
    h.reconciler.script('a', fail('one'), fail('two'), answer({ outcome: 'written' }), fail('three'));
    h.start();
    await h.settle();
    h.scheduler.advance(99);
    await h.settle();
    expect(h.reconciler.calls).toHaveLength(1); // the first retry waits 100 ms
    h.scheduler.advance(1);
    await h.settle();
    expect(h.reconciler.calls).toHaveLength(2);
    h.scheduler.advance(199);
    await h.settle();
    expect(h.reconciler.calls).toHaveLength(2); // the second 200 ms
    h.scheduler.advance(1);
    await h.settle();
    expect(h.metrics.results).toEqual(['error', 'error', 'written']);
    h.runner.enqueue('a');
    await h.settle();
    h.scheduler.advance(100); // after a success the backoff starts over at 100 ms
    await h.settle();
    expect(h.metrics.results).toEqual(['error', 'error', 'written', 'error', 'done']);
    expect(h.metrics.errors).toBe(3);
    expect(h.metrics.retries).toBe(3);
    await h.stop();
  });

  it('gives a key up on a terminal error until something enqueues it again', async () => {
    const h = harness({ keys: ['a'] });
    h.reconciler.script('a', () => Promise.reject(new TerminalError('cannot ever work')));
    h.start();
    await h.settle();
    h.scheduler.advance(59_999); // up to the resync: backoff would have retried it many times
    await h.settle();
    expect(h.reconciler.calls).toEqual(['a']);
    expect(h.metrics.results).toEqual(['terminal']);
    expect(h.metrics.retries).toBe(0);
    h.runner.enqueue('a');
    await h.settle();
    expect(h.metrics.results).toEqual(['terminal', 'done']);
    await h.stop();
  });

  it('never reconciles one key twice at once; added meanwhile, it runs again afterwards', async () => {
    const h = harness({ keys: ['a'], workers: 4 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.reconciler.script('a', async () => {
      await gate;
      return { outcome: 'written' };
    });
    h.start();
    await h.reconciler.called(1);
    h.runner.enqueue('a');
    h.runner.enqueue('a');
    // Nothing can hand 'a' out again while it runs: the queue holds it as dirty until done.
    expect([h.reconciler.calls, h.runner.queueDepth]).toEqual([['a'], 0]);
    release();
    await h.settle();
    expect(h.reconciler.calls).toEqual(['a', 'a']); // once more, not twice
    expect(h.reconciler.maxInFlightPerKey.get('a')).toBe(1);
    await h.stop();
  });

  it('enqueues every key again at each resync', async () => {
    const h = harness({ keys: ['a'] });
    h.start();
    await h.settle();
    h.keys.push('b');
    h.scheduler.advance(60_000);
    await h.settle();
    expect(h.reconciler.calls).toEqual(['a', 'a', 'b']);
    await h.stop();
  });

  it('ignores keys out of scope', async () => {
    const h = harness({ keys: ['in/a', 'out/b'], accepts: (key) => key.startsWith('in/') });
    h.start();
    await h.settle();
    h.runner.enqueue('out/c');
    await h.settle();
    expect(h.reconciler.calls).toEqual(['in/a']);
    await h.stop();
  });

  it('aborts the reconciles in flight when its signal aborts, and returns without retrying them', async () => {
    const h = harness({ keys: ['a', 'b'] });
    const seen: AbortSignal[] = [];
    const waitForAbort = (signal: AbortSignal): Promise<ReconcileResult> => {
      seen.push(signal);
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true }),
      );
    };
    h.reconciler.script('a', waitForAbort);
    h.reconciler.script('b', waitForAbort);
    h.start();
    await h.reconciler.called(2);
    expect(seen).toHaveLength(2);
    expect(seen.every((s) => !s.aborted)).toBe(true);
    await h.stop(); // resolves only once both reconciles returned
    expect(seen.every((s) => s.aborted)).toBe(true);
    expect(h.metrics.results).toEqual(['aborted', 'aborted']);
    expect(h.metrics.retries).toBe(0);
    expect(h.scheduler.pending).toBe(0); // no resync or retry timer left behind
    h.runner.enqueue('a');
    expect(h.runner.queueDepth).toBe(0);
  });

  it('refuses to run twice at once', async () => {
    const h = harness();
    h.start();
    await expect(h.runner.run(new AbortController().signal)).rejects.toThrow(/already running/);
    await h.stop();
  });
});
