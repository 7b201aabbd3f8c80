/**
 * What the agent reports about its work, for /metrics (agent/metrics.ts implements it). The three
 * parts of a request's time an operator needs to tell apart: the request as a whole, each delegate
 * plugin run, and each network-status write to the API server.
 */
export interface AgentObserver {
  /** One CNI request, from its first byte to its answer. */
  request(command: string, outcome: 'ok' | 'error', seconds: number): void;
  /** One delegate plugin run, from its start to its exit (VERSION probes included). */
  delegate(command: string, plugin: string, outcome: DelegateOutcome, seconds: number): void;
  /** One attempt to write a pod's network-status (Kubernetes mode). */
  statusWrite(outcome: 'ok' | 'error', seconds: number): void;
  /** One question to the kubelet's pod-resources API (device networks): from the call to the decoded answer. */
  podResources(outcome: 'ok' | 'error', seconds: number): void;
}

export type DelegateOutcome = 'ok' | 'error' | 'timeout';
