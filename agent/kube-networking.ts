/**
 * The agent's Kubernetes side, assembled: the NAD informer feeding the on-disk NadStore, the informer
 * on this node's pods, the KubeSource the attach logic reads from, and the NodeNetworkState reporter.
 * Informers start in the background: the agent serves CNI requests from the disk copy at once, even
 * when the API server is away.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { networkKey } from '../lib/node-state.ts';
import { KubeEventRecorder } from '../platform/kube/events.ts';
import { nadInformer, nodeNad, nodePodInformer } from '../platform/kube/informers.ts';
import { loadKubeConfig } from '../platform/kube/kubeconfig.ts';
import { KubeRestClient, type KubeClient } from '../platform/kube/rest.ts';
import type { Clock, FileSystem } from '../lib/ports.ts';
import type { ConfDirScan } from './conf-dir.ts';
import { KubeSource, podInfo, type PodEventSink, type PodObject } from './kube-source.ts';
import type { PodInfo } from './network-source.ts';
import { NadStore } from './nad-store.ts';
import { NodeReporter, type NodeReporterOptions } from './node-reporter.ts';
import type { AgentObserver } from './observer.ts';

export interface KubeNetworkingOptions {
  /** The agent's client (field manager multinet-agent). */
  readonly client: KubeClient;
  readonly nodeName: string;
  readonly stateDir: string;
  readonly binDirs: readonly string[];
  readonly confDir: string;
  readonly agentVersion: string;
  readonly heartbeatMs: number;
  readonly fs: FileSystem;
  readonly clock: Clock;
  readonly log: Logger;
  readonly scan: () => Promise<ConfDirScan>;
  /** The shim and conf-dir facts of each report (see NodeReporterOptions.facts). */
  readonly facts?: NodeReporterOptions['facts'];
  readonly event?: PodEventSink;
  /** Told about each network-status write (metrics). */
  readonly observeStatusWrite?: AgentObserver['statusWrite'];
}

export interface KubeNetworking {
  /** The one client (and connection pool) every part uses. */
  readonly client: KubeClient;
  readonly source: KubeSource;
  readonly store: NadStore;
  readonly reporter: NodeReporter;
  /** Set when built by connectKubeNetworking: flushed on stop. */
  readonly events?: KubeEventRecorder;
  /** True once both informers have synced at least once. */
  synced(): boolean;
  /** Objects in the informer caches (for /metrics). */
  cached(): { readonly nads: number; readonly pods: number };
  /**
   * Tells `listener` about this node's pods as the informer sees them: each one listed or changed that
   * is not being deleted, and each one deleted (hot-plug listens).
   */
  onPods(listener: PodListener): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PodListener {
  changed(pod: PodInfo): void;
  deleted(uid: string): void;
}

export function createKubeNetworking(options: KubeNetworkingOptions): KubeNetworking {
  const { log } = options;
  const store = new NadStore(options.fs, options.stateDir, log.child({ component: 'nad-store' }));
  // The store holds what ADD reads; the informers keep only identities and what the store is fed.
  const nads = nadInformer(options.client, log, nodeNad);
  const pods = nodePodInformer(options.client, options.nodeName, log);
  const source = new KubeSource({
    client: options.client,
    pods: pods.cache,
    networks: store,
    clock: options.clock,
    log: log.child({ component: 'kube-source' }),
    ...(options.event ? { event: options.event } : {}),
    ...(options.observeStatusWrite ? { observeWrite: options.observeStatusWrite } : {}),
  });
  const reporter = new NodeReporter({
    client: options.client,
    fs: options.fs,
    store,
    scan: options.scan,
    nodeName: options.nodeName,
    binDirs: options.binDirs,
    confDir: options.confDir,
    agentVersion: options.agentVersion,
    log: log.child({ component: 'node-reporter' }),
    heartbeatMs: options.heartbeatMs,
    debounceMs: 500,
    ...(options.facts ? { facts: options.facts } : {}),
  });
  store.onChange = () => reporter.trigger();
  // Store writes are serialized so a delete never overtakes the add before it.
  let writes: Promise<void> = Promise.resolve();
  const enqueue = (what: string, work: () => Promise<void>): void => {
    writes = writes.then(work).catch((err: unknown) => {
      log.error(`cannot store NAD change (${what})`, { error: errorMessage(err) });
    });
  };
  nads.on('add', (nad) => enqueue('add', () => store.upsert(nad)));
  nads.on('update', (nad) => enqueue('update', () => store.upsert(nad)));
  nads.on('delete', (nad) =>
    enqueue('delete', () => store.remove(nad.metadata.namespace ?? 'default', nad.metadata.name)),
  );
  return {
    client: options.client,
    source,
    store,
    reporter,
    synced: () => nads.synced && pods.synced,
    cached: () => ({ nads: nads.size, pods: pods.size }),
    onPods(listener) {
      const changed = (pod: PodObject): void => {
        if (!pod.metadata.deletionTimestamp) listener.changed(podInfo(pod));
      };
      pods.on('add', changed);
      pods.on('update', changed);
      pods.on('delete', (pod) => {
        if (pod.metadata.uid) listener.deleted(pod.metadata.uid);
      });
    },
    async start() {
      const loaded = await store.load();
      log.info('loaded stored networks', { count: loaded });
      reporter.start();
      void nads.start().then(() => {
        if (!nads.synced) return; // stopped before the first list: the disk copy stays as it is
        const present = new Set(
          nads.cache.list().map((n) => networkKey(n.metadata.namespace ?? 'default', n.metadata.name)),
        );
        enqueue('prune', () => store.prune(present));
        log.info('NAD informer synced', { count: present.size });
      });
      void pods.start().then(() => {
        if (pods.synced) log.info('pod informer synced', { node: options.nodeName, pods: pods.size });
      });
    },
    async stop() {
      source.stop();
      await Promise.all([nads.stop(), pods.stop()]);
      await writes;
      await reporter.stop();
    },
  };
}

export type ConnectOptions = Omit<KubeNetworkingOptions, 'client' | 'event'> & {
  readonly kubeconfig?: string | undefined;
  /** The environment (in-cluster: KUBERNETES_SERVICE_HOST/_PORT). */
  readonly env: Readonly<Record<string, string | undefined>>;
};

/**
 * Loads the client configuration (a kubeconfig file or the in-cluster ServiceAccount) and builds the
 * Kubernetes side with an Event recorder, all on one client (one connection pool).
 */
export function connectKubeNetworking(options: ConnectOptions): KubeNetworking {
  // The kubelet's own rate (kubeAPIQPS 50, burst 100): every ADD waits for its network-status patch, and
  // the Events share the client, so 20/40 made a burst of 50 pods wait ~1.5 s on this client alone.
  const rest = new KubeRestClient(loadKubeConfig({ kubeconfig: options.kubeconfig, env: options.env }), {
    qps: 50,
    burst: 100,
    userAgent: `multinet-agent/${options.agentVersion}`,
    fieldManager: 'multinet-agent',
  });
  const events = new KubeEventRecorder({
    rest,
    component: 'multinet-agent',
    host: options.nodeName,
    log: options.log.child({ component: 'events' }),
    // One node's pods: two AddedInterface Events per ADD of a pod with one network. A burst of pods
    // must not build a queue (each waiting Event is memory), so the rate keeps up with the node's ADDs
    // and what cannot wait is dropped; a few hundred remembered events and objects are plenty.
    qps: 10,
    burst: 50,
    maxPending: 200,
    cacheSize: 512,
  });
  const networking = createKubeNetworking({
    ...options,
    client: rest,
    event: (pod, type, reason, message) =>
      events.event(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          name: pod.name,
          namespace: pod.namespace,
          uid: pod.uid || undefined,
        },
        type,
        reason,
        message,
      ),
  });
  return {
    ...networking,
    events,
    async stop() {
      await networking.stop();
      await events.stop(5000);
      rest.close();
    },
  };
}
