/**
 * The NADs as the validators see them: the informer cache, each object evaluated once per
 * uid + resourceVersion (evaluations are made when the informer delivers the object, so the request
 * path only reads a map), plus a short-lived overlay of objects fetched directly after a cache miss.
 */
import type { NadObject } from '../platform/kube/informers.ts';
import { networkKey } from '../lib/node-state.ts';
import { evaluateNad, type NadEvaluation } from './nad-evaluation.ts';

/** The read-only view validators take (tests pass their own). */
export interface NadLookup {
  get(namespace: string, name: string): NadEvaluation | undefined;
  /** Every accepted NAD whose configuration uses host-local IPAM. */
  hostLocalNetworks(): Iterable<NadEvaluation>;
}

/** Where NADs come from: the informer's ObjectCache has this shape. */
export interface NadSource {
  get(name: string, namespace?: string): NadObject | undefined;
  list(namespace?: string): readonly NadObject[];
}

interface Memo {
  readonly uid: string | undefined;
  readonly resourceVersion: string | undefined;
  readonly evaluation: NadEvaluation;
}

interface Fetched {
  readonly object: NadObject;
  readonly until: number;
}

export interface NadCatalogOptions {
  /** How long a directly fetched NAD is used before the informer must have it. Default 60 s. */
  readonly fetchedTtlMs?: number;
  readonly maxFetched?: number;
  readonly now?: () => number;
}

export class NadCatalog implements NadLookup {
  private readonly source: NadSource;
  private readonly memo = new Map<string, Memo>();
  private readonly fetched = new Map<string, Fetched>();
  private readonly fetchedTtlMs: number;
  private readonly maxFetched: number;
  private readonly now: () => number;
  /** How many evaluations were computed (not memo hits); for tests and metrics. */
  evaluations = 0;

  constructor(source: NadSource, options: NadCatalogOptions = {}) {
    this.source = source;
    this.fetchedTtlMs = options.fetchedTtlMs ?? 60_000;
    this.maxFetched = options.maxFetched ?? 1000;
    this.now = options.now ?? Date.now;
  }

  get(namespace: string, name: string): NadEvaluation | undefined {
    const object = this.source.get(name, namespace) ?? this.fromFetched(namespace, name);
    return object ? this.evaluate(object) : undefined;
  }

  *hostLocalNetworks(): Iterable<NadEvaluation> {
    for (const object of this.source.list()) {
      const evaluation = this.evaluate(object);
      if (evaluation.accepted && evaluation.usesHostLocal) yield evaluation;
    }
  }

  /** Evaluates (or re-uses the evaluation of) an object; informer add/update handlers call this to warm the memo. */
  evaluate(object: NadObject): NadEvaluation {
    const namespace = object.metadata.namespace ?? 'default';
    const key = networkKey(namespace, object.metadata.name);
    const memo = this.memo.get(key);
    const uid = object.metadata.uid;
    const resourceVersion = object.metadata.resourceVersion;
    if (memo && memo.uid === uid && memo.resourceVersion === resourceVersion) return memo.evaluation;
    const evaluation = evaluateNad(object, namespace, object.metadata.name);
    this.evaluations++;
    // Objects without a uid (tests, dry runs) are evaluated each time rather than memoized under a guess.
    if (uid !== undefined || resourceVersion !== undefined)
      this.memo.set(key, { uid, resourceVersion, evaluation });
    return evaluation;
  }

  /** The informer's delete handler: drop what was known about the NAD. */
  forget(object: NadObject): void {
    const key = networkKey(object.metadata.namespace ?? 'default', object.metadata.name);
    this.memo.delete(key);
    this.fetched.delete(key);
  }

  /** A NAD read directly from the API server after a cache miss; used until the informer has it. */
  remember(object: NadObject): void {
    if (this.fetched.size >= this.maxFetched) {
      const oldest = this.fetched.keys().next();
      if (!oldest.done) this.fetched.delete(oldest.value);
    }
    this.fetched.set(networkKey(object.metadata.namespace ?? 'default', object.metadata.name), {
      object,
      until: this.now() + this.fetchedTtlMs,
    });
  }

  private fromFetched(namespace: string, name: string): NadObject | undefined {
    if (this.fetched.size === 0) return undefined;
    const key = networkKey(namespace, name);
    const entry = this.fetched.get(key);
    if (!entry) return undefined;
    if (entry.until < this.now()) {
      this.fetched.delete(key);
      return undefined;
    }
    return entry.object;
  }
}
