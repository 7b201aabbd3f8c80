/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: candidates
 * try to take the Lease every retryPeriod; the holder renews it every retryPeriod and gives up
 * leadership when it could not renew for renewDeadline; another candidate takes over once the Lease
 * was not renewed for leaseDuration. Expiry is judged by when this process last saw the Lease record
 * change (its own clock), never by comparing clocks across machines. On shutdown the leader releases
 * the Lease (empty holder, 1 s duration) after its work has stopped, so a standby takes over at once.
 *
 *   const elector = new LeaderElector({ rest, namespace, name: 'multinet-controller', identity, log,
 *     onStartedLeading: (signal) => controller.run(signal) });
 *   await elector.run(shutdownSignal); // returns after shutdown, once the Lease is released
 *
 * `onStartedLeading` runs while this process leads and must return soon after its signal aborts
 * (leadership lost, or shutdown); the elector waits for it before releasing or competing again.
 *
 * Every attempt is bounded by the renew deadline: a renew whose request hangs is cancelled when
 * renewDeadline has passed since the last successful renew, and leadership ends right then, well
 * before another candidate may take the Lease (leaseDuration). Time and timers come from an injected
 * Scheduler (the work queue's port), so tests drive them without sleeping.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../../lib/errors.ts';
import type { Scheduler } from '../../lib/ports.ts';
import { realScheduler } from '../nodejs/clock.ts';
import { isConflict, isNotFound, type KubeRequester } from './rest.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  readonly rest: KubeRequester;
  readonly namespace: string;
  readonly name: string;
  /** Unique per candidate, e.g. "<pod name>_<random>". */
  readonly identity: string;
  /** How long a Lease is valid without renewal (default 15 s). */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leadership (default 10 s). */
  readonly renewDeadlineMs?: number;
  /** Time between attempts (default 2 s). */
  readonly retryPeriodMs?: number;
  /** Release the Lease when run()'s signal aborts (default true). */
  readonly releaseOnCancel?: boolean;
  readonly log: Logger;
  /** Runs while leading; must settle soon after `signal` aborts. */
  readonly onStartedLeading: (signal: AbortSignal) => Promise<void>;
  readonly onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to this candidate). */
  readonly onNewLeader?: (identity: string) => void;
  /** Time and timers (default: the real clock and setTimeout). */
  readonly scheduler?: Scheduler;
  /** Jitter of the acquire retries, 0 to 1 (default Math.random). */
  readonly random?: () => number;
}

/** metav1.MicroTime. */
function microTime(date: Date): string {
  return date.toISOString().replace(/(\.\d{3})Z$/, '$1000Z');
}

/** Resolves after ms on the scheduler's clock, or at once when signal aborts. */
function sleep(scheduler: Scheduler, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      timer.cancel();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = scheduler.setTimer(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A signal that aborts at `at` on the scheduler's clock, or with `parent`; dispose() drops the timer. */
function deadline(
  scheduler: Scheduler,
  at: number,
  parent: AbortSignal,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const expire = (): void => controller.abort(new Error('the renew deadline passed'));
  const timer = scheduler.setTimer(expire, Math.max(0, at - scheduler.now()));
  const onParent = (): void => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      timer.cancel();
      parent.removeEventListener('abort', onParent);
    },
  };
}

export class LeaderElector {
  private readonly options: LeaderElectionOptions;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observedVersion: string | undefined;
  private observedSpec: LeaseSpec | undefined;
  private observedAt = 0;
  private leading = false;
  private lastRenewAt = 0;
  private currentLeader: string | undefined;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.random = options.random ?? Math.random;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error('the renew deadline must be shorter than the lease duration');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder this candidate last saw (itself when leading). */
  get leader(): string | undefined {
    return this.currentLeader;
  }

  /** For /healthz: false when this candidate leads but has not renewed for longer than the lease allows. */
  healthy(toleranceMs = 20_000): boolean {
    return !this.leading || this.scheduler.now() - this.lastRenewAt <= this.leaseDurationMs + toleranceMs;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases/${this.options.name}`;
  }

  private observe(lease: Lease): void {
    if (lease.metadata.resourceVersion !== this.observedVersion) {
      this.observedVersion = lease.metadata.resourceVersion;
      this.observedSpec = lease.spec ?? {};
      this.observedAt = this.scheduler.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.currentLeader) {
      this.currentLeader = holder;
      if (holder) {
        this.options.log.info('new leader observed', { lease: this.options.name, leader: holder });
        this.options.onNewLeader?.(holder);
      }
    }
  }

  /**
   * One attempt to take or renew the Lease; true when this candidate holds it afterwards. Its requests
   * are cancelled when `signal` aborts.
   */
  async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { rest, identity } = this.options;
    const requestSignal = signal;
    const nowDate = new Date(this.scheduler.now());
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await rest.request<Lease>({ method: 'GET', path: this.path, signal: requestSignal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const created = await rest
        .request<Lease>({
          method: 'POST',
          path: `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(nowDate),
              renewTime: microTime(nowDate),
              leaseTransitions: 0,
            },
          },
          signal: requestSignal,
        })
        .catch((e: unknown) => {
          if (isConflict(e)) return undefined; // another candidate created it first
          throw e;
        });
      if (!created) return false;
      this.observe(created);
      return true;
    }
    this.observe(lease);
    const spec = this.observedSpec ?? {};
    const holder = spec.holderIdentity ?? '';
    const validMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder && holder !== identity && this.observedAt + validMs > this.scheduler.now()) return false;
    const mine = holder === identity;
    const next: Lease = {
      ...lease,
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(nowDate),
        renewTime: microTime(nowDate),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      const updated = await rest.request<Lease>({
        method: 'PUT',
        path: this.path,
        body: next,
        signal: requestSignal,
      });
      this.observe(updated);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** One attempt, cancelled when `by` (on the scheduler's clock) has passed or `signal` aborts. */
  private async attempt(signal: AbortSignal, by: number): Promise<boolean> {
    const bounded = deadline(this.scheduler, by, signal);
    try {
      return await this.tryAcquireOrRenew(bounded.signal);
    } catch (err) {
      if (!signal.aborted)
        this.options.log.warn('leader election: cannot reach the Lease', {
          lease: `${this.options.namespace}/${this.options.name}`,
          error: errorMessage(err),
        });
      return false;
    } finally {
      bounded.dispose();
    }
  }

  /** Competes for the Lease until signal aborts; leads whenever it holds it. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.options.log;
    while (!signal.aborted) {
      // Acquire: retry with jitter until this candidate holds the Lease.
      let acquired = false;
      while (
        !signal.aborted &&
        !(acquired = await this.attempt(signal, this.scheduler.now() + this.renewDeadlineMs))
      ) {
        await sleep(this.scheduler, this.retryPeriodMs * (1 + this.random() * 0.2), signal);
      }
      if (!acquired) break;
      this.leading = true;
      this.lastRenewAt = this.scheduler.now();
      log.info('became the leader', { lease: `${this.options.namespace}/${this.options.name}` });
      const leadership = new AbortController();
      let workEnded = false;
      const work = Promise.resolve()
        .then(() => this.options.onStartedLeading(leadership.signal))
        .catch((err: unknown) => log.error('leader work failed', { error: errorMessage(err) }))
        .finally(() => {
          workEnded = true;
          leadership.abort();
        });
      // Renew until the Lease is lost, the work ends or shutdown.
      const stop = AbortSignal.any([signal, leadership.signal]);
      let lost = false;
      while (!stop.aborted) {
        await sleep(this.scheduler, this.retryPeriodMs, stop);
        if (stop.aborted) break;
        const by = this.lastRenewAt + this.renewDeadlineMs;
        if (await this.attempt(stop, by)) this.lastRenewAt = this.scheduler.now();
        else if (!stop.aborted && this.scheduler.now() >= by) {
          lost = true;
          break;
        }
      }
      if (lost) log.warn('lost the leadership: could not renew the Lease in time');
      else if (workEnded && !signal.aborted) log.warn('leader work ended; giving up the leadership');
      leadership.abort();
      await work;
      this.leading = false;
      this.options.onStoppedLeading?.();
      if (!lost && (signal.aborted ? this.options.releaseOnCancel !== false : true)) await this.release();
      if (signal.aborted) break;
      if (workEnded) await sleep(this.scheduler, this.retryPeriodMs, signal);
    }
  }

  /** Gives the Lease up if this candidate holds it: empty holder and a 1 s duration. */
  async release(): Promise<void> {
    const { rest, identity, log } = this.options;
    const bounded = deadline(this.scheduler, this.scheduler.now() + 5000, new AbortController().signal);
    try {
      const lease = await rest.request<Lease>({
        method: 'GET',
        path: this.path,
        signal: bounded.signal,
      });
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(new Date(this.scheduler.now()));
      const { holderIdentity: _holder, ...rest_ } = lease.spec;
      await rest.request({
        method: 'PUT',
        path: this.path,
        body: {
          ...lease,
          spec: { ...rest_, leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
        },
        signal: bounded.signal,
      });
      this.currentLeader = '';
      log.info('released the Lease', { lease: `${this.options.namespace}/${this.options.name}` });
    } catch (err) {
      log.warn('could not release the Lease; another candidate takes over when it expires', {
        error: errorMessage(err),
      });
    } finally {
      bounded.dispose();
    }
  }
}
