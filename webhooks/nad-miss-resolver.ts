/**
 * A pod created right after its NAD (`kubectl apply -f nad.yaml -f pod.yaml`) can reach the webhook
 * before the informer has delivered the NAD. Before denying "not found", the webhook reads each missing
 * NAD once from the API server. Only misses cost an API call; a NAD found absent is not asked for
 * again for a short while, so a flood of pods naming a missing NAD stays one request per few seconds,
 * and concurrent misses of the same NAD share one request.
 */
import type { Logger } from 'winston';
import { networkKey } from '../lib/node-state.ts';
import { errorMessage } from '../lib/errors.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { type NadCatalog } from './nad-catalog.ts';

export interface NetworkRef {
  readonly namespace: string;
  readonly name: string;
}

/** Reads one NAD; resolves undefined when it does not exist. */
export type NadFetcher = (namespace: string, name: string) => Promise<NadObject | undefined>;

export interface MissResolverOptions {
  /** How long a NAD found absent is not fetched again. Default 5 s. */
  readonly absentTtlMs?: number;
  readonly now?: () => number;
}

export class NadMissResolver {
  private readonly catalog: NadCatalog;
  private readonly fetch: NadFetcher;
  private readonly log: Logger;
  private readonly absentTtlMs: number;
  private readonly now: () => number;
  private readonly absentUntil = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(catalog: NadCatalog, fetch: NadFetcher, log: Logger, options: MissResolverOptions = {}) {
    this.catalog = catalog;
    this.fetch = fetch;
    this.log = log;
    this.absentTtlMs = options.absentTtlMs ?? 5000;
    this.now = options.now ?? Date.now;
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
      if (until > this.now()) return Promise.resolve(false);
      this.absentUntil.delete(key);
    }
    const running = this.inFlight.get(key);
    if (running) return running;
    const promise = this.fetch(ref.namespace, ref.name)
      .then((object) => {
        if (!object) {
          if (this.absentUntil.size > 10_000) this.absentUntil.clear();
          this.absentUntil.set(key, this.now() + this.absentTtlMs);
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
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }
}
