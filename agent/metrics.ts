/**
 * The agent's Prometheus metrics, in a registry of their own (as the controller's and the webhook's):
 * CNI requests by command and outcome and their duration, each delegate plugin run's duration by
 * command and plugin, the network-status writes' duration, the requests in flight, the informer
 * caches' sizes, and Node's default process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentObserver } from './observer.ts';

export interface AgentMetrics extends AgentObserver {
  readonly registry: Registry;
}

export interface AgentMetricSources {
  /** CNI requests running or waiting. */
  readonly inFlight: () => number;
  /** Objects in the informer caches (Kubernetes mode). */
  readonly cached?: () => { readonly nads: number; readonly pods: number } | undefined;
}

export function createAgentMetrics(sources: AgentMetricSources, processMetrics = true): AgentMetrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'multinet_agent_' });
  const registers = [registry];
  const requests = new Counter({
    name: 'multinet_agent_cni_requests_total',
    help: 'CNI requests served, by command and outcome',
    labelNames: ['command', 'outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'multinet_agent_cni_request_duration_seconds',
    help: 'Time to serve a CNI request, delegates included',
    labelNames: ['command'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const delegates = new Histogram({
    name: 'multinet_agent_delegate_duration_seconds',
    help: 'Time of one delegate plugin run, from its start to its exit, by command and plugin',
    labelNames: ['command', 'plugin'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const delegateFailures = new Counter({
    name: 'multinet_agent_delegate_failures_total',
    help: 'Delegate plugin runs that failed, by command, plugin and outcome (error: nonzero exit; timeout: killed)',
    labelNames: ['command', 'plugin', 'outcome'] as const,
    registers,
  });
  const statusWrites = new Histogram({
    name: 'multinet_agent_network_status_write_duration_seconds',
    help: "Time of one write of a pod's network-status annotation to the API server, by outcome",
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const podResources = new Histogram({
    name: 'multinet_agent_pod_resources_duration_seconds',
    help: "Time of one List call to the kubelet's pod-resources API (ADDs of device networks), by outcome",
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  new Gauge({
    name: 'multinet_agent_cni_requests_in_flight',
    help: 'CNI requests running or waiting',
    registers,
    collect() {
      this.set(sources.inFlight());
    },
  });
  new Gauge({
    name: 'multinet_agent_cached_objects',
    help: 'Objects in the informer caches, by kind (Kubernetes mode)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const cached = sources.cached?.();
      if (!cached) return;
      this.set({ kind: 'NetworkAttachmentDefinition' }, cached.nads);
      this.set({ kind: 'Pod' }, cached.pods);
    },
  });
  return {
    registry,
    request(command, outcome, seconds) {
      requests.inc({ command, outcome });
      duration.observe({ command }, seconds);
    },
    delegate(command, plugin, outcome, seconds) {
      delegates.observe({ command, plugin }, seconds);
      if (outcome !== 'ok') delegateFailures.inc({ command, plugin, outcome });
    },
    statusWrite(outcome, seconds) {
      statusWrites.observe({ outcome }, seconds);
    },
    podResources(outcome, seconds) {
      podResources.observe({ outcome }, seconds);
    },
  };
}
