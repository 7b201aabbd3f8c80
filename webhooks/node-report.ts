/**
 * What the node agents report, as the validators need it: how many nodes run the agent, which plugin
 * binaries are missing where, and the problems reported for one NAD. Built from NodeNetworkState
 * objects (the nodeStateInformer cache), rebuilt lazily after a change, never on the request path
 * unless something changed.
 */
import {
  defaultStaleAfterSeconds,
  heartbeatOf,
  isEligible,
  networkKey,
  reportedProblems,
  type NodeNetworkProblem,
  type NodeNetworkState,
} from '../lib/node-state.ts';

export interface NodeNetworkReport {
  readonly node: string;
  readonly missingPlugins: readonly string[];
  readonly missingInterfaces: readonly string[];
  readonly error?: string;
}

/** The read-only view validators take (tests pass their own). */
export interface NodeReport {
  /** Nodes whose agent reported recently. */
  agentNodeCount(): number;
  /** Nodes (sorted) whose agent reports the plugin binary missing, for any network. */
  nodesMissingBinary(binary: string): readonly string[];
  /** The problems agents report for one NAD, one entry per node. */
  problemsOf(namespace: string, name: string): readonly NodeNetworkReport[];
}

interface Index {
  readonly nodes: number;
  readonly missingBinary: ReadonlyMap<string, readonly string[]>;
  readonly problems: ReadonlyMap<string, readonly NodeNetworkReport[]>;
}

export interface NodeStateIndexOptions {
  /** Nodes whose last heartbeat is older are left out (lib/node-state.ts isEligible). Default 180 s. */
  readonly staleAfterMs?: number;
  readonly now?: () => number;
}

function report(node: string, problem: NodeNetworkProblem): NodeNetworkReport {
  return {
    node,
    missingPlugins: problem.missingPlugins ?? [],
    missingInterfaces: problem.missingInterfaces ?? [],
    ...(problem.error ? { error: problem.error } : {}),
  };
}

function buildIndex(states: readonly NodeNetworkState[], now: number, staleAfterMs: number): Index {
  let nodes = 0;
  const missing = new Map<string, Set<string>>();
  const problems = new Map<string, NodeNetworkReport[]>();
  for (const state of states) {
    const status = state.status;
    if (!status) continue;
    if (!isEligible(heartbeatOf(state), now, staleAfterMs)) continue;
    nodes++;
    // The object is named after its node (the agent's identity policy allows it no other).
    const node = state.metadata.name;
    for (const [key, problem] of reportedProblems(state)) {
      for (const binary of problem.missingPlugins ?? []) {
        let set = missing.get(binary);
        if (!set) missing.set(binary, (set = new Set()));
        set.add(node);
      }
      let list = problems.get(key);
      if (!list) problems.set(key, (list = []));
      list.push(report(node, problem));
    }
  }
  return {
    nodes,
    missingBinary: new Map([...missing].map(([binary, set]) => [binary, [...set].sort()])),
    problems,
  };
}

/** A NodeReport over a changing list of NodeNetworkStates; call invalidate() when the list changes. */
export class NodeStateIndex implements NodeReport {
  private readonly list: () => readonly NodeNetworkState[];
  private readonly staleAfterMs: number;
  private readonly now: () => number;
  private index: Index | undefined;
  private builtAt = 0;

  constructor(list: () => readonly NodeNetworkState[], options: NodeStateIndexOptions = {}) {
    this.list = list;
    this.staleAfterMs = options.staleAfterMs ?? defaultStaleAfterSeconds * 1000;
    this.now = options.now ?? Date.now;
  }

  invalidate(): void {
    this.index = undefined;
  }

  agentNodeCount(): number {
    return this.current().nodes;
  }

  nodesMissingBinary(binary: string): readonly string[] {
    return this.current().missingBinary.get(binary) ?? [];
  }

  problemsOf(namespace: string, name: string): readonly NodeNetworkReport[] {
    return this.current().problems.get(networkKey(namespace, name)) ?? [];
  }

  private current(): Index {
    const now = this.now();
    // Heartbeats age without any event: rebuild at least once a minute so stale nodes drop out.
    if (!this.index || now - this.builtAt > 60_000) {
      this.index = buildIndex(this.list(), now, this.staleAfterMs);
      this.builtAt = now;
    }
    return this.index;
  }
}
