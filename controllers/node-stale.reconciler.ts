/**
 * Marks the NodeNetworkState of a node whose agent stopped reporting: the label `multinet.io/stale=true`
 * once its heartbeat is older than --stale-after (the same rule that stops the node being counted in the
 * NADs' Ready, lib/node-state.ts isEligible), removed once the agent reports again. So `kubectl get nns`
 * shows it in its STALE column and `kubectl get nns -l multinet.io/stale=true` lists the nodes to look at.
 * The agent writes the report's status; the controller writes only this label (metadata, a merge patch).
 *
 * Level-triggered: a reconcile reads the cached report, patches the label when it disagrees, and asks to
 * be requeued when a fresh report would turn stale.
 */
import type { Logger } from 'winston';
import { heartbeatOf, isEligible, nodeStatePath, type NodeNetworkState } from '../lib/node-state.ts';
import { contentTypes, type KubeRequester } from '../platform/kube/rest.ts';
import type { ReconcileResult, Reconciler } from './runner.ts';

export const staleLabel = 'multinet.io/stale';

export interface NodeStaleMarkerDeps {
  /** The informer's cache of reports, by node name. */
  readonly states: { get(name: string): NodeNetworkState | undefined };
  readonly rest: KubeRequester;
  readonly staleAfterMs: number;
  readonly now: () => number;
  readonly log: Logger;
}

export class NodeStaleMarker implements Reconciler {
  private readonly deps: NodeStaleMarkerDeps;

  constructor(deps: NodeStaleMarkerDeps) {
    this.deps = deps;
  }

  async reconcile(name: string, signal: AbortSignal): Promise<ReconcileResult> {
    const state = this.deps.states.get(name);
    if (!state) return { outcome: 'gone' };
    const heartbeat = heartbeatOf(state);
    const now = this.deps.now();
    const stale = !isEligible(heartbeat, now, this.deps.staleAfterMs);
    const marked = state.metadata.labels?.[staleLabel] === 'true';
    // Look again just after a fresh report would turn stale.
    const requeue = stale
      ? {}
      : { requeueAfterMs: Math.max(0, heartbeat + this.deps.staleAfterMs + 1 - now) };
    if (stale === marked) return { outcome: 'unchanged', ...requeue };
    await this.deps.rest.request({
      method: 'PATCH',
      path: nodeStatePath(name),
      contentType: contentTypes.mergePatch,
      body: { metadata: { labels: { [staleLabel]: stale ? 'true' : null } } },
      ignoreResponse: true,
      signal,
    });
    this.deps.log.info(stale ? 'node report is stale: marked' : 'node reports again: unmarked', {
      node: name,
      heartbeat: Number.isFinite(heartbeat) ? new Date(heartbeat).toISOString() : 'none',
    });
    return { outcome: stale ? 'marked' : 'unmarked', ...requeue };
  }
}
