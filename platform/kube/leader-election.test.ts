/**
 * Leader election on the in-memory API, on a manual clock: time moves only when the test steps it
 * (elapse), so every bound below is measured in the elector's own time, never by sleeping.
 */
import { LeaderElector, type LeaderElectionOptions } from './leader-election.ts';
import { KubeApiError, type KubeRequest } from './rest.ts';
import { MemoryApi } from '../../test/doubles/memory-api.ts';
import { ManualScheduler } from '../../test/doubles/manual-scheduler.ts';
import { silentLog as log } from '../../test/doubles/nad-world.ts';

const leasePath = '/apis/coordination.k8s.io/v1/namespaces/ns/leases/ctl';
const leaseDurationMs = 1000; // the Lease records whole seconds
const renewDeadlineMs = 400;
const retryPeriodMs = 50;

/**
 * Lets the electors run to their next wait. The in-memory API answers in microtasks and every timer
 * is the manual scheduler's, so an elector that can go on is a microtask away; the microtask queue
 * drains completely before any macrotask runs, so one macrotask later each elector waits on the
 * scheduler (or on a request the test holds).
 */
async function flush(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

interface World {
  readonly api: MemoryApi;
  readonly scheduler: ManualScheduler;
  /** Steps the clock by `ms` in 10 ms steps, letting the electors run after each. */
  elapse(ms: number): Promise<void>;
  /** Steps the clock until check() holds; returns the time that took. Fails after `limitMs`. */
  until(what: string, check: () => boolean, limitMs?: number): Promise<number>;
}

function world(): World {
  const api = new MemoryApi();
  const scheduler = new ManualScheduler(Date.parse('2026-03-01T00:00:00Z'));
  const elapse = async (ms: number): Promise<void> => {
    await flush();
    for (let t = 0; t < ms; t += 10) {
      scheduler.advance(Math.min(10, ms - t));
      await flush();
    }
  };
  return {
    api,
    scheduler,
    elapse,
    async until(what, check, limitMs = 5000) {
      const start = scheduler.now();
      await flush();
      while (!check()) {
        if (scheduler.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
        await elapse(10);
      }
      return scheduler.now() - start;
    },
  };
}

interface Candidate {
  readonly elector: LeaderElector;
  readonly stop: AbortController;
  readonly done: Promise<void>;
  readonly log: string[];
}

function candidate(w: World, identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
  const stop = new AbortController();
  const history: string[] = [];
  const elector = new LeaderElector({
    rest: w.api,
    namespace: 'ns',
    name: 'ctl',
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    log,
    scheduler: w.scheduler,
    random: () => 0,
    onStartedLeading: async (signal) => {
      history.push('started');
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      history.push('stopping');
    },
    onStoppedLeading: () => history.push('stopped'),
    ...extra,
  });
  return { elector, stop, done: elector.run(stop.signal), log: history };
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseTransitions?: number;
  leaseDurationSeconds?: number;
}
const lease = (api: MemoryApi): LeaseSpec | undefined => api.get(leasePath)?.spec as LeaseSpec | undefined;

describe('LeaderElector', () => {
  it('elects one leader; the standby takes over at once when the leader releases on shutdown', async () => {
    const w = world();
    const a = candidate(w, 'a');
    await w.until('a leads', () => a.elector.isLeader);
    const b = candidate(w, 'b');
    await w.elapse(leaseDurationMs * 2); // a renews all along: b never gets the Lease
    expect(b.elector.isLeader).toBe(false);
    expect(b.elector.leader).toBe('a');
    expect(lease(w.api)?.holderIdentity).toBe('a');

    a.stop.abort();
    await a.done;
    expect(a.log).toEqual(['started', 'stopping', 'stopped']);
    expect(lease(w.api)).toMatchObject({ leaseDurationSeconds: 1 });
    expect(lease(w.api)?.holderIdentity).toBeUndefined(); // released
    const takeover = await w.until('b leads', () => b.elector.isLeader);
    expect(takeover).toBeLessThanOrEqual(retryPeriodMs + 10); // its next try, not the lease's expiry
    expect(lease(w.api)).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    b.stop.abort();
    await b.done;
  });

  it('takes over from a leader that stopped without releasing, once its lease expired', async () => {
    const w = world();
    const a = candidate(w, 'a', { releaseOnCancel: false });
    await w.until('a leads', () => a.elector.isLeader);
    const b = candidate(w, 'b');
    await w.elapse(100);
    a.stop.abort();
    await a.done;
    expect(lease(w.api)?.holderIdentity).toBe('a');
    const takeover = await w.until('b leads', () => b.elector.isLeader);
    // b last saw the record change at a's last renew (at most a retry period before a stopped).
    expect(takeover).toBeGreaterThanOrEqual(leaseDurationMs - retryPeriodMs);
    expect(takeover).toBeLessThanOrEqual(leaseDurationMs + 2 * retryPeriodMs);
    expect(lease(w.api)).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    b.stop.abort();
    await b.done;
  });

  it('gives up leadership when it cannot renew within the deadline, and competes again', async () => {
    const w = world();
    const a = candidate(w, 'a');
    await w.until('a leads', () => a.elector.isLeader);
    let down = true;
    w.api.intercept = () => {
      if (down) throw new KubeApiError(503, 'ServiceUnavailable', 'the API server is away');
    };
    const steppedDown = await w.until('a steps down', () => !a.elector.isLeader);
    expect(steppedDown).toBeLessThanOrEqual(renewDeadlineMs + retryPeriodMs);
    expect(a.log).toEqual(['started', 'stopping', 'stopped']);
    expect(a.elector.healthy()).toBe(true);
    down = false;
    await w.until('a leads again', () => a.elector.isLeader);
    expect(a.log).toEqual(['started', 'stopping', 'stopped', 'started']);
    a.stop.abort();
    await a.done;
  });

  it('cancels a renew that hangs at the renew deadline, and its work stops before the lease expires', async () => {
    const w = world();
    let workSignal: AbortSignal | undefined;
    let stoppedAt: number | undefined;
    const a = candidate(w, 'a', {
      onStartedLeading: async (signal) => {
        workSignal = signal;
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        stoppedAt = w.scheduler.now();
      },
    });
    const renewedAt: number[] = [];
    let hang = false;
    const hung: KubeRequest[] = [];
    w.api.intercept = (request) => {
      if (!hang) {
        if (request.method === 'PUT') renewedAt.push(w.scheduler.now());
        return;
      }
      hung.push(request);
      // The API server never answers; only the caller's signal ends the request.
      return new Promise<void>((resolve) =>
        request.signal?.addEventListener('abort', () => resolve(), { once: true }),
      );
    };
    await w.until('a leads', () => a.elector.isLeader);
    await w.elapse(2 * retryPeriodMs); // renews go through
    hang = true;
    const lastRenew = renewedAt.at(-1)!;
    await w.until('a steps down', () => !a.elector.isLeader);
    expect(hung.length).toBeGreaterThan(0);
    expect(hung.every((r) => r.signal?.aborted)).toBe(true);
    expect(workSignal?.aborted).toBe(true);
    expect(stoppedAt! - lastRenew).toBeLessThanOrEqual(renewDeadlineMs + retryPeriodMs);
    expect(stoppedAt! - lastRenew).toBeLessThan(leaseDurationMs); // before anyone else may lead
    w.api.intercept = undefined;
    a.stop.abort();
    await a.done;
  });

  it('gives the lease up when its work ends on its own, and competes for it again', async () => {
    const w = world();
    const holders: Array<string | undefined> = [];
    w.api.intercept = (request) => {
      if (request.method === 'PUT' || request.method === 'POST')
        holders.push((request.body as { spec?: LeaseSpec }).spec?.holderIdentity);
    };
    let runs = 0;
    const a = candidate(w, 'a', {
      onStartedLeading: async () => {
        runs++;
        await new Promise<void>((resolve) => w.scheduler.setTimer(resolve, 20));
        throw new Error('crashed');
      },
    });
    await w.until('a second run', () => runs >= 2);
    // The first run ended: the Lease was released (no holder) before a took it again.
    const released = holders.indexOf(undefined);
    expect(released).toBeGreaterThan(0);
    expect(holders.slice(0, released).every((h) => h === 'a')).toBe(true);
    expect(holders.slice(released + 1)).toContain('a');
    expect(lease(w.api)?.leaseTransitions).toBeGreaterThanOrEqual(1);
    a.stop.abort();
    await w.elapse(20); // the second run ends on its own too
    await a.done;
  });

  it('refuses a renew deadline that is not shorter than the lease', () => {
    expect(
      () =>
        new LeaderElector({
          rest: new MemoryApi(),
          namespace: 'ns',
          name: 'x',
          identity: 'a',
          leaseDurationMs: 1000,
          renewDeadlineMs: 1000,
          log,
          onStartedLeading: () => Promise.resolve(),
        }),
    ).toThrow(/renew deadline/);
  });
});
