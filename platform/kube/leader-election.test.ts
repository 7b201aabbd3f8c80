import winston from 'winston';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.ts';
import { KubeApiError } from './rest.ts';
import { MemoryApi } from '../../test/doubles/memory-api.ts';
import { eventually } from '../../lib/eventually.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const until = (what: string, check: () => boolean, timeoutMs = 5000): Promise<true> =>
  eventually(what, () => check() || undefined, { timeoutMs, intervalMs: 10 });
const leasePath = '/apis/coordination.k8s.io/v1/namespaces/ns/leases/ctl';

interface Candidate {
  readonly elector: LeaderElector;
  readonly stop: AbortController;
  readonly done: Promise<void>;
  readonly log: string[];
}

function candidate(api: MemoryApi, identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
  const stop = new AbortController();
  const history: string[] = [];
  const elector = new LeaderElector({
    rest: api,
    namespace: 'ns',
    name: 'ctl',
    identity,
    leaseDurationMs: 600,
    renewDeadlineMs: 400,
    retryPeriodMs: 50,
    log,
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

const holder = (api: MemoryApi): unknown =>
  (api.get(leasePath)?.spec as { holderIdentity?: string })?.holderIdentity;

describe('LeaderElector', () => {
  it('elects one leader; the standby takes over at once when the leader releases on shutdown', async () => {
    const api = new MemoryApi();
    const a = candidate(api, 'a');
    await until('a leads', () => a.elector.isLeader);
    const b = candidate(api, 'b');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.elector.isLeader).toBe(false);
    expect(b.elector.leader).toBe('a');
    expect(holder(api)).toBe('a');

    const released = Date.now();
    a.stop.abort();
    await a.done;
    expect(a.log).toEqual(['started', 'stopping', 'stopped']);
    expect(holder(api)).toBeUndefined(); // released
    await until('b leads', () => b.elector.isLeader);
    expect(Date.now() - released).toBeLessThan(400); // well before the 600 ms lease would expire
    expect(api.get(leasePath)?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    b.stop.abort();
    await b.done;
  });

  it('takes over from a leader that stopped without releasing, once its lease expired', async () => {
    const api = new MemoryApi();
    const a = candidate(api, 'a', { releaseOnCancel: false });
    await until('a leads', () => a.elector.isLeader);
    const b = candidate(api, 'b');
    await new Promise((r) => setTimeout(r, 100));
    const crashed = Date.now();
    a.stop.abort();
    await a.done;
    expect(holder(api)).toBe('a');
    await until('b leads', () => b.elector.isLeader, 3000);
    expect(Date.now() - crashed).toBeGreaterThanOrEqual(450);
    b.stop.abort();
    await b.done;
  });

  it('gives up leadership when it cannot renew within the deadline, and competes again', async () => {
    const api = new MemoryApi();
    const a = candidate(api, 'a');
    await until('a leads', () => a.elector.isLeader);
    let down = true;
    api.intercept = () => {
      if (down) throw new KubeApiError(503, 'ServiceUnavailable', 'the API server is away');
    };
    await until('a steps down', () => !a.elector.isLeader, 3000);
    expect(a.log).toEqual(['started', 'stopping', 'stopped']);
    expect(a.elector.healthy()).toBe(true);
    down = false;
    await until('a leads again', () => a.elector.isLeader, 3000);
    expect(a.log).toEqual(['started', 'stopping', 'stopped', 'started']);
    a.stop.abort();
    await a.done;
  });

  it('gives the lease up when its work ends on its own', async () => {
    const api = new MemoryApi();
    let runs = 0;
    const a = candidate(api, 'a', {
      onStartedLeading: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('crashed');
      },
    });
    await until('a second run', () => runs >= 2, 3000);
    a.stop.abort();
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
