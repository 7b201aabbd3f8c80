import { QueueFullError, WorkLimiter } from './limiter.ts';

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('WorkLimiter', () => {
  it('never runs more than `concurrency` at once, and starts the next as one ends', async () => {
    const limiter = new WorkLimiter(3, 1000);
    const gates = Array.from({ length: 10 }, gate);
    const started = Array.from({ length: 10 }, gate);
    let active = 0;
    let peak = 0;
    const done = gates.map((g, i) =>
      limiter.run(`k${i}`, async () => {
        peak = Math.max(peak, ++active);
        started[i]!.open();
        await g.promise;
        active--;
      }),
    );
    await Promise.all(started.slice(0, 3).map((s) => s.promise));
    // The limiter's own account: three slots taken, seven waiting for one.
    expect({ active, ...limiter.stats }).toEqual({ active: 3, running: 3, waiting: 7 });
    gates[0]!.open();
    await started[3]!.promise;
    expect({ active, ...limiter.stats }).toEqual({ active: 3, running: 3, waiting: 6 });
    for (const g of gates) g.open();
    await Promise.all(done);
    expect({ peak, ...limiter.stats }).toEqual({ peak: 3, running: 0, waiting: 0 });
  });

  it('resizes: a larger limit starts waiting work at once, a smaller one lets running work finish', async () => {
    const limiter = new WorkLimiter(2, 1000);
    const gates = Array.from({ length: 8 }, gate);
    const started = Array.from({ length: 8 }, gate);
    let active = 0;
    const done = gates.map((g, i) =>
      limiter.run(`k${i}`, async () => {
        active++;
        started[i]!.open();
        await g.promise;
        active--;
      }),
    );
    await Promise.all(started.slice(0, 2).map((s) => s.promise));
    expect({ active, ...limiter.stats }).toEqual({ active: 2, running: 2, waiting: 6 });
    limiter.resize(5);
    await Promise.all(started.slice(2, 5).map((s) => s.promise));
    expect({ active, limit: limiter.limit, ...limiter.stats }).toEqual({
      active: 5,
      limit: 5,
      running: 5,
      waiting: 3,
    });
    limiter.resize(1);
    for (const g of gates.slice(0, 3)) g.open();
    await Promise.all(done.slice(0, 3));
    // Three of the five ended and none took their place: two run on, over the new limit of one.
    expect({ active, ...limiter.stats }).toEqual({ active: 2, running: 2, waiting: 3 });
    for (const g of gates.slice(3, 5)) g.open();
    await Promise.all([...done.slice(3, 5), started[5]!.promise]);
    // The first of them to end left one running; the second's slot went to the next in line.
    expect({ active, ...limiter.stats }).toEqual({ active: 1, running: 1, waiting: 2 });
    for (const g of gates) g.open();
    await Promise.all(done);
    expect(limiter.stats).toEqual({ running: 0, waiting: 0 });
  });

  it('runs work for the same key one after another, in arrival order', async () => {
    const limiter = new WorkLimiter(8, 100);
    const events: string[] = [];
    const gates = [gate(), gate(), gate()];
    const done = gates.map((g, n) =>
      limiter.run('pod', async () => {
        events.push(`start ${n}`);
        await g.promise;
        events.push(`end ${n}`);
      }),
    );
    // Opened last first: the order still follows arrival.
    for (const g of [...gates].reverse()) g.open();
    await Promise.all(done);
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('lets work that waits for its turn hold no slot: other keys use the slots meanwhile', async () => {
    const limiter = new WorkLimiter(2, 10);
    const first = gate();
    const events: string[] = [];
    const a1 = limiter.run('a', async () => {
      events.push('a1');
      await first.promise;
    });
    const a2 = limiter.run('a', () => Promise.resolve(void events.push('a2')));
    const b = limiter.run('b', () => Promise.resolve(void events.push('b')));
    await b;
    // a2 waits for a's turn without a slot, so b got the second slot while a1 still runs.
    expect(events).toEqual(['a1', 'b']);
    expect(limiter.stats).toEqual({ running: 1, waiting: 1 });
    first.open();
    await Promise.all([a1, a2]);
    expect(events).toEqual(['a1', 'b', 'a2']);
  });

  it('refuses work beyond the queue bound, and recovers', async () => {
    const limiter = new WorkLimiter(1, 2);
    const g = gate();
    const first = limiter.run('a', () => g.promise);
    const queued = [limiter.run('b', () => Promise.resolve()), limiter.run('c', () => Promise.resolve())];
    await expect(limiter.run('d', () => Promise.resolve())).rejects.toThrow(QueueFullError);
    g.open();
    await Promise.all([first, ...queued]);
    await expect(limiter.run('e', () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(limiter.stats).toEqual({ running: 0, waiting: 0 });
  });

  it('releases its slot and its turn when the work throws', async () => {
    const limiter = new WorkLimiter(1, 10);
    await expect(limiter.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run('a', () => Promise.resolve(1))).resolves.toBe(1);
    expect(limiter.stats).toEqual({ running: 0, waiting: 0 });
  });
});
