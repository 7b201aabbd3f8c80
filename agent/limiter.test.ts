import { setTimeout as sleep } from 'node:timers/promises';
import { QueueFullError, WorkLimiter } from './limiter.ts';

describe('WorkLimiter', () => {
  it('never runs more than `concurrency` at once', async () => {
    const limiter = new WorkLimiter(3, 1000);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        limiter.run(`k${i}`, async () => {
          peak = Math.max(peak, ++running);
          await sleep(1);
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('runs work for the same key one after another, in arrival order', async () => {
    const limiter = new WorkLimiter(8, 100);
    const events: string[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        limiter.run('pod', async () => {
          events.push(`start ${n}`);
          await sleep(5 - n);
          events.push(`end ${n}`);
        }),
      ),
    );
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('refuses work beyond the queue bound, and recovers', async () => {
    const limiter = new WorkLimiter(1, 2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = limiter.run('a', () => gate);
    const queued = [limiter.run('b', () => Promise.resolve()), limiter.run('c', () => Promise.resolve())];
    await expect(limiter.run('d', () => Promise.resolve())).rejects.toThrow(QueueFullError);
    release();
    await Promise.all([first, ...queued]);
    await expect(limiter.run('e', () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(limiter.stats).toEqual({ running: 0, waiting: 0 });
  });

  it('serializes nested work by key without taking a slot', async () => {
    const limiter = new WorkLimiter(1, 10);
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const add = limiter.run('pod-a', async () => {
      events.push('add start');
      await gate;
      events.push('add end');
    });
    // GC holds the only slot and waits, by key, for the ADD of pod-a; no deadlock since exclusive takes no slot.
    const gc = limiter.run('GC', () =>
      limiter.exclusive('pod-a', () => Promise.resolve(events.push('gc of pod-a'))),
    );
    await new Promise((r) => setTimeout(r, 5));
    release();
    await Promise.all([add, gc]);
    expect(events).toEqual(['add start', 'add end', 'gc of pod-a']);
  });

  it('releases its slot when the work throws', async () => {
    const limiter = new WorkLimiter(1, 10);
    await expect(limiter.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run('a', () => Promise.resolve(1))).resolves.toBe(1);
  });
});
