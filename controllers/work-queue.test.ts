import { TokenBucket } from '../platform/kube/token-bucket.ts';
import { ManualScheduler } from '../test/doubles/manual-scheduler.ts';
import { WorkQueue } from './work-queue.ts';

/** Takes every key that get() hands out right now (without waiting). */
async function takeAll(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.length > 0) keys.push((await queue.get())!);
  return keys;
}

describe('WorkQueue', () => {
  it('hands keys out in order and de-duplicates keys that are still queued', async () => {
    const queue = new WorkQueue({ scheduler: new ManualScheduler() });
    for (const key of ['a', 'b', 'a', 'c', 'b']) queue.add(key);
    expect(queue.length).toBe(3);
    expect(await takeAll(queue)).toEqual(['a', 'b', 'c']);
  });

  it('never hands one key to two workers; a key added while in progress comes back after done', async () => {
    const queue = new WorkQueue({ scheduler: new ManualScheduler() });
    queue.add('a');
    const first = await queue.get();
    expect(first).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.length).toBe(0); // not handed out again while in progress
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await Promise.resolve();
    expect(second).toBeUndefined();
    queue.done('a');
    await Promise.resolve();
    await Promise.resolve();
    expect(second).toBe('a'); // once, although added twice
    queue.done('a');
    expect(queue.length).toBe(0);
    expect(queue.inProgress).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue({ scheduler: new ManualScheduler() });
    const waiting = queue.get();
    queue.add('x');
    await expect(waiting).resolves.toBe('x');
  });

  it('delays keys with addAfter, keeping the earliest time of a key', async () => {
    const scheduler = new ManualScheduler();
    const queue = new WorkQueue({ scheduler });
    queue.addAfter('late', 1000);
    queue.addAfter('soon', 100);
    queue.addAfter('late', 5000); // later than pending: ignored
    queue.addAfter('soon', 50); // earlier: wins
    expect(queue.delayedCount).toBe(2);
    scheduler.advance(49);
    expect(queue.length).toBe(0);
    scheduler.advance(1);
    expect(await takeAll(queue)).toEqual(['soon']);
    scheduler.advance(950);
    expect(await takeAll(queue)).toEqual(['late']);
    expect(queue.delayedCount).toBe(0);
  });

  it('backs a failing key off exponentially up to the maximum, and forget resets it', () => {
    const scheduler = new ManualScheduler();
    const queue = new WorkQueue({ scheduler, baseDelayMs: 100, maxDelayMs: 1000, retryQps: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(queue.backoffFor('k'));
      queue.addRateLimited('k');
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(queue.retries('k')).toBe(6);
    queue.forget('k');
    expect(queue.retries('k')).toBe(0);
    expect(queue.backoffFor('k')).toBe(100);
  });

  it('releases a retried key after its backoff', async () => {
    const scheduler = new ManualScheduler();
    const queue = new WorkQueue({ scheduler, baseDelayMs: 100 });
    queue.add('k');
    const key = (await queue.get())!;
    queue.addRateLimited(key);
    queue.done(key);
    expect(queue.length).toBe(0);
    scheduler.advance(99);
    expect(queue.length).toBe(0);
    scheduler.advance(1);
    expect(await takeAll(queue)).toEqual(['k']);
  });

  it('limits the overall retry rate across keys', () => {
    const scheduler = new ManualScheduler();
    const queue = new WorkQueue({ scheduler, baseDelayMs: 1, retryQps: 10, retryBurst: 2 });
    for (const key of ['a', 'b', 'c', 'd']) queue.addRateLimited(key);
    scheduler.advance(1);
    expect(queue.length).toBe(2); // the burst
    scheduler.advance(99);
    expect(queue.length).toBe(3); // one more token after 100 ms
    scheduler.advance(100);
    expect(queue.length).toBe(4);
  });

  it('shuts down: waiting workers get undefined, queued keys are dropped, drain waits for work in flight', async () => {
    const scheduler = new ManualScheduler();
    const queue = new WorkQueue({ scheduler });
    queue.add('busy');
    const busy = (await queue.get())!;
    queue.add('queued');
    queue.addAfter('delayed', 100);
    queue.shutDown();
    expect(queue.length).toBe(0);
    expect(scheduler.pending).toBe(0);
    await expect(queue.get()).resolves.toBeUndefined();
    queue.add('ignored');
    expect(queue.length).toBe(0);
    let drained = false;
    const drain = queue.drain().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    queue.done(busy);
    await drain;
    expect(drained).toBe(true);
  });

  it('reports adds, retries and wait times to its observers', async () => {
    const scheduler = new ManualScheduler();
    const seen = { adds: 0, retries: 0, waits: [] as number[] };
    const queue = new WorkQueue({
      scheduler,
      onAdd: () => seen.adds++,
      onRetry: () => seen.retries++,
      onWait: (ms) => seen.waits.push(ms),
    });
    queue.add('a');
    queue.add('a');
    scheduler.advance(30);
    await queue.get();
    queue.addRateLimited('a');
    expect(seen).toEqual({ adds: 1, retries: 1, waits: [30] });
  });

  it('keeps its order across many keys (compaction of the internal list)', async () => {
    const queue = new WorkQueue({ scheduler: new ManualScheduler() });
    const keys = Array.from({ length: 5000 }, (_, i) => `ns/nad-${i}`);
    for (const key of keys) queue.add(key);
    const out: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = (await queue.get())!;
      out.push(key);
      queue.done(key);
    }
    for (const key of keys.slice(0, 10)) queue.add(key);
    out.push(...(await takeAll(queue)));
    expect(out).toEqual([...keys, ...keys.slice(0, 10)]);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then one token per 1/qps, and reserves in order', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.reserve(0), bucket.reserve(0), bucket.reserve(0)]).toEqual([0, 0, 0]);
    expect(bucket.reserve(0)).toBe(100);
    expect(bucket.reserve(0)).toBe(200);
    expect(bucket.tryTake(150)).toBe(false);
    expect(bucket.reserve(1000)).toBe(0);
  });

  it('is unlimited with qps <= 0', () => {
    const bucket = new TokenBucket(0, 1, 0);
    for (let i = 0; i < 100; i++) expect(bucket.reserve(0)).toBe(0);
  });
});
