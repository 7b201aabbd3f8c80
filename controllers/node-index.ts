/**
 * The NodeNetworkState reports, indexed for the NAD reconciler: each node's bucket digests and
 * heartbeat, the problems by NAD, and which nodes are eligible (a heartbeat fresher than staleAfter).
 * Every change returns what it affects, so the controller requeues only the NADs whose status can
 * change: those in buckets whose digest moved, those whose problems changed, or all of them when the
 * set of eligible nodes changed.
 */
import type { NodeNetworkProblem, NodeNetworkState } from '../lib/node-state.ts';
import { heartbeatOf, isEligible, reportedProblems } from '../lib/node-state.ts';

export interface NodeRecord {
  readonly name: string;
  /** Milliseconds since the epoch of the last heartbeat; NaN when the node never reported. */
  readonly heartbeatMs: number;
  readonly digests: readonly string[];
  /** Problems by NAD key (namespace/name). */
  readonly problems: ReadonlyMap<string, NodeNetworkProblem>;
  /** JSON of each problem, to tell changed ones. */
  readonly problemText: ReadonlyMap<string, string>;
}

/** What a change affects. */
export interface NodeChange {
  /** The eligible set (or the stale list) changed: every NAD's status may change. */
  readonly all: boolean;
  /** Buckets whose digest changed on an eligible node. */
  readonly buckets: ReadonlySet<number>;
  /** NADs whose problems changed on an eligible node. */
  readonly keys: ReadonlySet<string>;
}

const nothing: NodeChange = { all: false, buckets: new Set(), keys: new Set() };
const everything: NodeChange = { all: true, buckets: new Set(), keys: new Set() };

function toRecord(state: NodeNetworkState): NodeRecord {
  const status = state.status;
  const heartbeatMs = heartbeatOf(state);
  const problems = reportedProblems(state);
  const problemText = new Map([...problems].map(([key, problem]) => [key, JSON.stringify(problem)]));
  return {
    name: state.metadata.name,
    heartbeatMs,
    digests: Array.isArray(status?.digests) ? status.digests : [],
    problems,
    problemText,
  };
}

export class NodeIndex {
  private readonly staleAfterMs: number;
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly eligibleNames = new Set<string>();
  private readonly problemsByKey = new Map<string, Map<string, NodeNetworkProblem>>();
  private eligibleCache: NodeRecord[] | undefined;
  private staleCache: string[] | undefined;

  constructor(staleAfterMs: number) {
    this.staleAfterMs = staleAfterMs;
  }

  get staleAfter(): number {
    return this.staleAfterMs;
  }

  private fresh(record: NodeRecord, now: number): boolean {
    return isEligible(record.heartbeatMs, now, this.staleAfterMs);
  }

  private invalidate(): void {
    this.eligibleCache = undefined;
    this.staleCache = undefined;
  }

  /** Records a node's report (add or update). */
  upsert(state: NodeNetworkState, now: number): NodeChange {
    const next = toRecord(state);
    const previous = this.nodes.get(next.name);
    this.nodes.set(next.name, next);
    const wasEligible = this.eligibleNames.has(next.name);
    const isEligible = this.fresh(next, now);
    if (isEligible) this.eligibleNames.add(next.name);
    else this.eligibleNames.delete(next.name);
    this.updateProblems(previous, next);
    if (!previous || wasEligible !== isEligible) {
      this.invalidate();
      return everything;
    }
    this.eligibleCache = undefined;
    if (!isEligible) return nothing;
    const buckets = new Set<number>();
    const length = Math.max(previous.digests.length, next.digests.length);
    for (let b = 0; b < length; b++) if (previous.digests[b] !== next.digests[b]) buckets.add(b);
    const keys = new Set<string>();
    for (const [key, text] of next.problemText) if (previous.problemText.get(key) !== text) keys.add(key);
    for (const key of previous.problemText.keys()) if (!next.problemText.has(key)) keys.add(key);
    return buckets.size === 0 && keys.size === 0 ? nothing : { all: false, buckets, keys };
  }

  remove(name: string): NodeChange {
    const previous = this.nodes.get(name);
    if (!previous) return nothing;
    this.nodes.delete(name);
    this.eligibleNames.delete(name);
    this.updateProblems(previous, undefined);
    this.invalidate();
    return everything;
  }

  /** Re-evaluates heartbeats against the clock; true when a node went stale or came back. */
  refresh(now: number): boolean {
    let changed = false;
    for (const record of this.nodes.values()) {
      const isEligible = this.fresh(record, now);
      if (isEligible === this.eligibleNames.has(record.name)) continue;
      changed = true;
      if (isEligible) this.eligibleNames.add(record.name);
      else this.eligibleNames.delete(record.name);
    }
    if (changed) this.invalidate();
    return changed;
  }

  private updateProblems(previous: NodeRecord | undefined, next: NodeRecord | undefined): void {
    const name = (previous ?? next)!.name;
    for (const key of previous?.problems.keys() ?? []) {
      if (next?.problems.has(key)) continue;
      const byNode = this.problemsByKey.get(key);
      byNode?.delete(name);
      if (byNode?.size === 0) this.problemsByKey.delete(key);
    }
    for (const [key, problem] of next?.problems ?? []) {
      let byNode = this.problemsByKey.get(key);
      if (!byNode) this.problemsByKey.set(key, (byNode = new Map<string, NodeNetworkProblem>()));
      byNode.set(name, problem);
    }
  }

  /** Eligible nodes, sorted by name. */
  eligible(): readonly NodeRecord[] {
    this.eligibleCache ??= [...this.eligibleNames]
      .sort()
      .map((name) => this.nodes.get(name)!)
      .filter(Boolean);
    return this.eligibleCache;
  }

  /** Nodes whose report is stale (or missing), sorted by name. */
  stale(): readonly string[] {
    this.staleCache ??= [...this.nodes.keys()].filter((name) => !this.eligibleNames.has(name)).sort();
    return this.staleCache;
  }

  /** Problems reported for a NAD, by node name (eligible or not). */
  problemsFor(key: string): ReadonlyMap<string, NodeNetworkProblem> | undefined {
    return this.problemsByKey.get(key);
  }

  /** The earliest time a currently eligible node turns stale (for a timer); undefined when none. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const name of this.eligibleNames) {
      const at = this.nodes.get(name)!.heartbeatMs + this.staleAfterMs + 1;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }
}
