/**
 * The controller's Prometheus metrics, in a registry of their own (so two controllers in one process,
 * as in the leader-election test, do not collide), plus Node's default process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly queueDepth: Gauge;
  readonly queueAdds: Counter;
  readonly queueRetries: Counter;
  readonly queueWait: Histogram;
  readonly reconcileDuration: Histogram<'result'>;
  readonly reconcileErrors: Counter;
  readonly statusWrites: Counter<'result'>;
  readonly events: Counter<'outcome'>;
  readonly leader: Gauge;
  readonly nadsByReady: Gauge<'status'>;
  readonly nodes: Gauge<'state'>;
  /** Where the gauges read their values at a scrape: the controller, once it exists. */
  observe(sources: MetricSources): void;
}

export interface MetricSources {
  readonly queueDepth: () => number;
  /** NAD counts by their Ready condition status (True, False, Unknown = no status yet). */
  readonly nadsByReady: () => Readonly<Record<string, number>>;
  readonly nodes: () => { eligible: number; stale: number };
}

/** The metrics; the gauges read their values from what observe() is given (nothing before). */
export function createControllerMetrics(processMetrics = true): ControllerMetrics {
  const registry = new Registry();
  let sources: MetricSources | undefined;
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'multinet_controller_' });
  const registers = [registry];
  return {
    registry,
    observe: (given) => void (sources = given),
    queueDepth: new Gauge({
      name: 'multinet_controller_queue_depth',
      help: 'NAD keys waiting in the work queue',
      registers,
      collect() {
        if (sources) this.set(sources.queueDepth());
      },
    }),
    queueAdds: new Counter({
      name: 'multinet_controller_queue_adds_total',
      help: 'Keys added to the work queue',
      registers,
    }),
    queueRetries: new Counter({
      name: 'multinet_controller_queue_retries_total',
      help: 'Keys re-added with backoff after a failed reconcile',
      registers,
    }),
    queueWait: new Histogram({
      name: 'multinet_controller_queue_wait_seconds',
      help: 'How long a key waited in the work queue before a worker took it',
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'multinet_controller_reconcile_duration_seconds',
      help: 'Time to reconcile one NAD, by result (unchanged, written, deferred, deleted, error)',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'multinet_controller_reconcile_errors_total',
      help: 'Reconciles that failed and were requeued with backoff',
      registers,
    }),
    statusWrites: new Counter({
      name: 'multinet_controller_status_writes_total',
      help: 'NAD status writes, by result (ok, conflict, gone)',
      labelNames: ['result'],
      registers,
    }),
    events: new Counter({
      name: 'multinet_controller_events_total',
      help: 'Kubernetes Events, by outcome (created, aggregated, dropped, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    leader: new Gauge({
      name: 'multinet_controller_leader',
      help: '1 while this replica holds the leader Lease and reconciles, else 0',
      registers,
    }),
    nadsByReady: new Gauge({
      name: 'multinet_controller_nads',
      help: 'NADs by the status of their Ready condition (Unknown: no status yet)',
      labelNames: ['status'],
      registers,
      collect() {
        this.reset();
        for (const [status, count] of Object.entries(sources?.nadsByReady() ?? {}))
          this.set({ status }, count);
      },
    }),
    nodes: new Gauge({
      name: 'multinet_controller_nodes',
      help: 'Nodes that report a NodeNetworkState, by state (eligible: fresh heartbeat; stale)',
      labelNames: ['state'],
      registers,
      collect() {
        if (!sources) return;
        const { eligible, stale } = sources.nodes();
        this.set({ state: 'eligible' }, eligible);
        this.set({ state: 'stale' }, stale);
      },
    }),
  };
}
