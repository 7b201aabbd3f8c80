/**
 * A pod created right after its NAD (`kubectl apply -f nad.yaml -f pod.yaml`) can reach the webhook
 * before the informer has delivered the NAD. Before denying "not found", the webhook reads each missing
 * NAD once from the API server. Only misses cost an API call; a NAD found absent is not asked for
 * again for a short while, so a flood of pods naming a missing NAD stays one request per few seconds,
 * and concurrent misses of the same NAD share one request. The read itself is bounded too (by the
 * longest an API server waits for a review): one that hangs would otherwise be shared by every later
 * miss of that NAD until the client's own timeout.
 */
import type { Logger } from 'winston';
import { networkKey } from '../lib/node-state.ts';
import { errorMessage } from '../lib/errors.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import type { Scheduler } from '../lib/ports.ts';
import { realScheduler } from '../platform/nodejs/clock.ts';
import { type NadCatalog } from './nad-catalog.ts';

export interface NetworkRef {
  readonly namespace: string;
  readonly name: string;
}

/** Reads one NAD; resolves undefined when it does not exist; gives up (rejects) when `signal` aborts. */
export type NadFetcher = (
  namespace: string,
  name: string,
  signal: AbortSignal,
) => Promise<NadObject | undefined>;

/** 10 s: how long the API server waits for a review by default (timeoutSeconds). */
export const defaultNadReadTimeoutMs = 10_000;

export interface MissResolverOptions {
  /** How long a NAD found absent is not fetched again. Default 5 s. */
  readonly absentTtlMs?: number;
  /** How long one read may take before it is abandoned. Default 10 s. */
  readonly readTimeoutMs?: number;
  readonly scheduler?: Scheduler;
}

export class NadMissResolver {
  private readonly catalog: NadCatalog;
  private readonly fetch: NadFetcher;
  private readonly log: Logger;
  private readonly absentTtlMs: number;
  private readonly readTimeoutMs: number;
  private readonly scheduler: Scheduler;
  private readonly absentUntil = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(catalog: NadCatalog, fetch: NadFetcher, log: Logger, options: MissResolverOptions = {}) {
    this.catalog = catalog;
    this.fetch = fetch;
    this.log = log;
    this.absentTtlMs = options.absentTtlMs ?? 5000;
    this.readTimeoutMs = options.readTimeoutMs ?? defaultNadReadTimeoutMs;
    this.scheduler = options.scheduler ?? realScheduler;
  }

  /**
   * Fetches the refs the catalog lacks; true when at least one was found (validate again then). Gives
   * up (false) when `signal` aborts: the review must be answered within the API server's timeout. A
   * read given up on still completes, and fills the catalog for the next review.
   */
  async resolve(refs: readonly NetworkRef[], signal?: AbortSignal): Promise<boolean> {
    const found = Promise.all(refs.map((ref) => this.resolveOne(ref))).then((results) =>
      results.some(Boolean),
    );
    if (!signal) return found;
    if (signal.aborted) return false;
    let onAbort!: () => void;
    const aborted = new Promise<boolean>((resolve) => {
      onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([found, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private resolveOne(ref: NetworkRef): Promise<boolean> {
    const key = networkKey(ref.namespace, ref.name);
    const until = this.absentUntil.get(key);
    if (until !== undefined) {
      if (until > this.scheduler.now()) return Promise.resolve(false);
      this.absentUntil.delete(key);
    }
    const running = this.inFlight.get(key);
    if (running) return running;
    const abandon = new AbortController();
    const timer = this.scheduler.setTimer(
      () => abandon.abort(new Error(`no answer within ${this.readTimeoutMs} ms`)),
      this.readTimeoutMs,
    );
    const promise = this.fetch(ref.namespace, ref.name, abandon.signal)
      .then((object) => {
        if (!object) {
          if (this.absentUntil.size > 10_000) this.absentUntil.clear();
          this.absentUntil.set(key, this.scheduler.now() + this.absentTtlMs);
          return false;
        }
        this.catalog.remember(object);
        return true;
      })
      .catch((err: unknown) => {
        this.log.warn('could not read a NetworkAttachmentDefinition missing from the cache', {
          nad: key,
          error: errorMessage(err),
        });
        return false;
      })
      .finally(() => {
        timer.cancel();
        this.inFlight.delete(key);
      });
    this.inFlight.set(key, promise);
    return promise;
  }
}
