/**
 * Assembles and runs the controller process: informers on NADs and NodeNetworkStates (running on every
 * replica, so a standby's caches are warm when it takes over), the NAD controller, the Event recorder,
 * optional leader election, and the probe server (/healthz, /readyz once the informers synced,
 * /metrics). `stop()` is the graceful shutdown: the informers stop (nothing new is queued), the workers
 * finish the reconciles in flight and the Lease is released, pending Events are flushed, then the
 * connections and the probe server close.
 *
 * Nothing here touches `process`: cli/controller.ts passes the cluster configuration, logger and settings in.
 */
import type { Server } from 'node:http';
import { http } from '../platform/nodejs/http.ts';
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { KubeEventRecorder } from '../platform/kube/events.ts';
import { nadInformer, nodeInformer, nodeStateInformer } from '../platform/kube/informers.ts';
import type { KubeAccess } from '../platform/kube/kubeconfig.ts';
import { LeaderElector, type LeaderElectionOptions } from '../platform/kube/leader-election.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { closeServer } from '../platform/nodejs/listen.ts';
import { createProbeHandler } from '../platform/nodejs/probe-server.ts';
import { createControllerMetrics, type ControllerMetrics } from './metrics.ts';
import { NadController } from './nad.controller.ts';
import { NodeStaleMarker } from './node-stale.reconciler.ts';
import { ControllerRunner } from './runner.ts';

/** Where and how to compete for the Lease (the elector's own options, minus what the manager supplies). */
export type LeaderElectionSettings = Pick<
  LeaderElectionOptions,
  | 'namespace'
  | 'name'
  | 'identity'
  | 'leaseDurationMs'
  | 'renewDeadlineMs'
  | 'retryPeriodMs'
  | 'releaseOnCancel'
>;

export interface ControllerSettings {
  /** The API server and credentials (a loaded kubeconfig or the in-cluster ServiceAccount). */
  readonly kubeConfig: KubeAccess;
  readonly log: Logger;
  readonly workers: number;
  readonly staleAfterMs: number;
  /** Requests a second to the API server and the burst above it (client-go's QPS and Burst). */
  readonly qps: number;
  readonly burst: number;
  /** Reconcile only NADs in these namespaces (all when empty or undefined). */
  readonly namespaces?: readonly string[];
  /** Count only NodeNetworkStates matching this label selector as nodes. */
  readonly nodeSelector?: string | undefined;
  /** Compete for a Lease; reconcile at once when undefined. */
  readonly leaderElection?: LeaderElectionSettings | undefined;
  /** Serve /healthz, /readyz and /metrics here (port 0 = any free port), listening through `listen`. */
  readonly probe?:
    | {
        readonly host: string;
        readonly port: number;
        /** Listens and returns the port: the entry point's decision (platform/nodejs/listen.ts listenTcp). */
        readonly listen: (server: Server, host: string, port: number) => Promise<number>;
      }
    | undefined;
  /** reportingInstance of Events (e.g. the pod name). */
  readonly instance: string;
  /** Node's default process metrics in /metrics (default true; tests with two controllers turn it off). */
  readonly processMetrics?: boolean;
  readonly progressIntervalMs?: number;
  readonly nodeBatchMs?: number;
}

export interface RunningController {
  readonly controller: NadController;
  readonly metrics: ControllerMetrics;
  /** The probe server's port, when it listens. */
  readonly probePort: number | undefined;
  /** Informers synced (what /readyz reports). */
  ready(): boolean;
  /** This replica reconciles (always true without leader election, once started). */
  isLeader(): boolean;
  /** Resolves when the controller stopped on its own (leader election ended) or after stop(). */
  readonly done: Promise<void>;
  /** Graceful shutdown; safe to call more than once. */
  stop(): Promise<void>;
}

export async function startController(settings: ControllerSettings): Promise<RunningController> {
  const { log } = settings;
  // One client for everything: informers, status writes, Events and the Lease share its connections.
  const rest = new KubeRestClient(settings.kubeConfig, {
    qps: settings.qps,
    burst: settings.burst,
    maxSockets: Math.max(4, settings.workers),
    userAgent: 'multinet-controller',
    fieldManager: 'multinet-controller',
  });
  const metrics = createControllerMetrics(settings.processMetrics ?? true);
  const recorder = new KubeEventRecorder({
    rest,
    component: 'multinet-controller',
    instance: settings.instance,
    log: log.child({ component: 'events' }),
    onOutcome: (outcome) => metrics.events.inc({ outcome }),
  });
  const nads = nadInformer(rest, log);
  const nodeStates = nodeStateInformer(rest, log, settings.nodeSelector);
  // Nodes only for the extended resources they advertise (device networks' resourceName).
  const kubeNodes = nodeInformer(rest, log);
  const controller = new NadController(
    {
      workers: settings.workers,
      staleAfterMs: settings.staleAfterMs,
      namespaces: new Set(settings.namespaces ?? []),
      ...(settings.progressIntervalMs !== undefined
        ? { progressIntervalMs: settings.progressIntervalMs }
        : {}),
      ...(settings.nodeBatchMs !== undefined ? { nodeBatchMs: settings.nodeBatchMs } : {}),
    },
    {
      nads: nads.cache,
      rest,
      events: recorder,
      log: log.child({ component: 'nad-controller' }),
      metrics,
    },
  );
  metrics.observe({
    queueDepth: () => controller.queueDepth,
    nadsByReady: () => controller.countByReady(),
    nodes: () => ({ eligible: controller.nodes.eligible().length, stale: controller.nodes.stale().length }),
  });
  nads.on('add', (o) => controller.nadChanged(o));
  nads.on('update', (o) => controller.nadChanged(o));
  nads.on('delete', (o) => controller.nadDeleted(o));
  nodeStates.on('add', (o) => controller.nodeChanged(o));
  nodeStates.on('update', (o) => controller.nodeChanged(o));
  nodeStates.on('delete', (o) => controller.nodeDeleted(o));
  kubeNodes.on('add', (o) => controller.kubeNodeChanged(o));
  kubeNodes.on('update', (o) => controller.kubeNodeChanged(o));
  kubeNodes.on('delete', (o) => controller.kubeNodeDeleted(o));
  // The stale mark on node reports: its own small runner beside the NADs' (one worker: few nodes change).
  const staleMarks = new ControllerRunner(
    new NodeStaleMarker({
      states: { get: (name) => nodeStates.cache.get(name) },
      rest,
      staleAfterMs: settings.staleAfterMs,
      now: () => Date.now(),
      log: log.child({ component: 'node-stale' }),
    }),
    {
      kind: 'nodenetworkstate',
      workers: 1,
      keys: () => nodeStates.cache.list().map((s) => s.metadata.name),
      log,
    },
  );
  nodeStates.on('add', (o) => staleMarks.enqueue(o.metadata.name));
  nodeStates.on('update', (o) => staleMarks.enqueue(o.metadata.name));
  const reconcile = (signal: AbortSignal): Promise<void> =>
    Promise.all([controller.run(signal), staleMarks.run(signal)]).then(() => undefined);

  const elector = settings.leaderElection
    ? new LeaderElector({
        rest,
        ...settings.leaderElection,
        log: log.child({ component: 'leader-election' }),
        onStartedLeading: async (signal) => {
          metrics.leader.set(1);
          try {
            await reconcile(signal);
          } finally {
            metrics.leader.set(0);
          }
        },
      })
    : undefined;
  const ready = (): boolean => nads.synced && nodeStates.synced && kubeNodes.synced;

  let server: Server | undefined;
  let probePort: number | undefined;
  if (settings.probe) {
    server = http.createServer(
      createProbeHandler({
        registry: metrics.registry,
        ready: { informers: ready },
        live: { 'leader-election': () => elector?.healthy() ?? true },
      }),
    );
    server.keepAliveTimeout = 5000;
    probePort = await settings.probe.listen(server, settings.probe.host, settings.probe.port);
    log.info('serving probes and metrics', { address: `${settings.probe.host}:${probePort}` });
  }

  const shutdown = new AbortController();
  const startInformers = async (): Promise<void> => {
    await Promise.all([nads.start(), nodeStates.start(), kubeNodes.start()]);
    log.info('caches synced', { nads: nads.cache.list().length, nodes: nodeStates.cache.list().length });
  };
  const run = (async (): Promise<void> => {
    await startInformers();
    if (shutdown.signal.aborted) return;
    if (elector) await elector.run(shutdown.signal);
    else {
      metrics.leader.set(1);
      await reconcile(shutdown.signal);
      metrics.leader.set(0);
    }
  })().catch((err: unknown) => {
    log.error('the controller stopped on an error', { error: errorMessage(err) });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async (): Promise<void> => {
      log.info('shutting down: finishing the reconciles in flight');
      shutdown.abort();
      await Promise.all(
        [nads.stop(), nodeStates.stop(), kubeNodes.stop()].map((p) => p.catch(() => undefined)),
      ).then(() => undefined);
      await run;
      controller.dispose();
      await recorder.stop(2000);
      rest.close();
      if (server) {
        server.closeAllConnections();
        await closeServer(server);
      }
      log.info('stopped');
    })());

  return {
    controller,
    metrics,
    probePort,
    ready,
    isLeader: () => (elector ? elector.isLeader : controller.leading),
    done: run,
    stop,
  };
}
