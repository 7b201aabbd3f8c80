/**
 * The agent's Kubernetes side, assembled: the NAD informer feeding the on-disk NadStore, the informer
 * on this node's pods, the KubeSource the attach logic reads from, and the NodeNetworkState reporter.
 * Informers start in the background: the agent serves CNI requests from the disk copy at once, even
 * when the API server is away.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../platform/kube/config.ts';
import { KubeEventRecorder } from '../platform/kube/events.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import type { ResilientInformer } from '../platform/kube/informer.ts';
import { nadInformer, nodePodInformer, type NadObject } from '../platform/kube/informers.ts';
import { networkKey } from '../lib/node-state.ts';
import type { Clock, FileSystem } from '../lib/ports.ts';
import type { ConfDirScan } from './conf-dir.ts';
import { KubeSource, type PodEventSink, type PodObject } from './kube-source.ts';
import { NadStore } from './nad-store.ts';
import { NodeReporter } from './node-reporter.ts';

export interface KubeNetworkingOptions {
  readonly kubeConfig: KubeConfig;
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
  readonly event?: PodEventSink;
}

export interface KubeNetworking {
  readonly source: KubeSource;
  readonly store: NadStore;
  readonly reporter: NodeReporter;
  /** Set when built by connectKubeNetworking: flushed on stop. */
  readonly events?: KubeEventRecorder;
  /** True once both informers have synced at least once. */
  synced(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createKubeNetworking(options: KubeNetworkingOptions): KubeNetworking {
  const { log } = options;
  const store = new NadStore(options.fs, options.stateDir, log.child({ component: 'nad-store' }));
  const nads: ResilientInformer<NadObject> = nadInformer(options.kubeConfig, log);
  const pods: ResilientInformer<PodObject> = nodePodInformer(options.kubeConfig, options.nodeName, log);
  const source = new KubeSource({
    kubeConfig: options.kubeConfig,
    pods,
    networks: store,
    clock: options.clock,
    log: log.child({ component: 'kube-source' }),
    ...(options.event ? { event: options.event } : {}),
  });
  const reporter = new NodeReporter({
    kubeConfig: options.kubeConfig,
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
    source,
    store,
    reporter,
    synced: () => nads.synced && pods.synced,
    async start() {
      const loaded = await store.load();
      log.info('loaded stored networks', { count: loaded });
      reporter.start();
      void nads.start().then(() => {
        const present = new Set(
          nads.cache.list().map((n) => networkKey(n.metadata.namespace ?? 'default', n.metadata.name)),
        );
        enqueue('prune', () => store.prune(present));
        log.info('NAD informer synced', { count: present.size });
      });
      void pods.start().then(() => log.info('pod informer synced', { node: options.nodeName }));
    },
    async stop() {
      source.stop();
      await Promise.all([nads.stop(), pods.stop()]);
      await writes;
      await reporter.stop();
    },
  };
}

export type ConnectOptions = Omit<KubeNetworkingOptions, 'kubeConfig' | 'event'> & {
  readonly kubeconfig?: string | undefined;
};

/**
 * Loads the client configuration (a kubeconfig file or the in-cluster ServiceAccount) and builds the
 * Kubernetes side with an Event recorder. The agent's entry imports this module only in Kubernetes
 * mode: the Kubernetes client costs about 90 MB and 1.5 s to load, which a standalone agent never pays.
 */
export function connectKubeNetworking(options: ConnectOptions): KubeNetworking {
  const kubeConfig = loadKubeConfig({ kubeconfig: options.kubeconfig });
  const rest = new KubeRestClient(kubeConfig, {
    qps: 20,
    burst: 40,
    userAgent: `multinet-agent/${options.agentVersion}`,
  });
  const events = new KubeEventRecorder({
    rest,
    component: 'multinet-agent',
    host: options.nodeName,
    log: options.log.child({ component: 'events' }),
  });
  const networking = createKubeNetworking({
    ...options,
    kubeConfig,
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
    },
  };
}
