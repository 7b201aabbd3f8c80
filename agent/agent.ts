/**
 * The node agent, assembled from its parts: the conf-dir writer (00-multinet.conflist), the delegate
 * runner, the attachment cache, the resolver over a network source, and the CNI request handler. The
 * entry point supplies the ports (fs, exec, clock), the source and the logger, and does the listening.
 */
import type { RequestListener } from 'node:http';
import type { Logger } from 'winston';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import { defaultDeviceInfoDir } from '../lib/devices.ts';
import type { Clock, Exec, FileSystem } from '../lib/ports.ts';
import { multinetVersion } from '../platform/version.ts';
import { AttachmentCache } from './attachment-cache.ts';
import { createCniHandler } from './cni-server.ts';
import { ConfWriter } from './conf-writer.ts';
import { applyDefaultRoute } from './default-route.ts';
import { DelegateRunner } from './delegate-runner.ts';
import { DeviceAttacher, type PodDeviceSource } from './devices.ts';
import { WorkLimiter } from './limiter.ts';
import type { NetworkSource } from './network-source.ts';
import { MultusCache } from './multus-cache.ts';
import { PodAttacher, type ClaimStatusSink } from './pod-attacher.ts';
import { HotPlug } from './hot-plug.ts';
import { AttachmentResolver, type ClaimNetworkSource, type NetworkOptions } from './resolve.ts';
import type { AgentObserver } from './observer.ts';

export interface AgentOptions {
  readonly confDir: string;
  readonly binDirs: readonly string[];
  readonly stateDir: string;
  readonly socketPath: string;
  readonly confFileName: string;
  readonly shimName: string;
  readonly cniVersion?: string | undefined;
  readonly network: NetworkOptions;
  readonly delegateTimeoutMs: number;
  readonly agentWaitSeconds: number;
  readonly readinessIndicatorFile?: string | undefined;
  readonly readinessTimeoutMs: number;
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly ipPath: string;
  readonly nsenterPath: string;
  /** Environment for delegate plugins besides CNI_* (PATH). */
  readonly pluginEnv: Readonly<Record<string, string>>;
  /** How often the conf dir is rescanned even without a change event. */
  readonly resyncMs: number;
  /**
   * The node the agent serves, when it knows it: part of its delegates' mark, so that agents of several
   * nodes that share one PID namespace (nodes in namespaces of one machine) never end each other's.
   */
  readonly nodeName?: string | undefined;
  /** This process's id: delegates carry it (delegateStarterMark), so a successor spares them. */
  readonly pid?: number | undefined;
  /** The Device Information Spec's root on the node (default /var/run/k8s.cni.cncf.io/devinfo). */
  readonly deviceInfoDir?: string;
  /** The version the agent names to shims (default: this checkout's, package.json). */
  readonly agentVersion?: string;
  /**
   * Multus' cniDir as this process sees it: a DEL of a container the agent has no record of releases what
   * Multus recorded there (pods Multus attached before multinet took the node over). Undefined: none.
   */
  readonly multusCacheDir?: string | undefined;
  /** The container runtime's libcni cache dir (its results/), where Multus' network's entries are removed. */
  readonly runtimeCniCacheDir?: string | undefined;
}

export interface AgentDeps {
  readonly fs: FileSystem;
  readonly exec: Exec;
  /** How delegate plugins are executed (default: exec; in the host's mount namespace in a DaemonSet, host-mounts-exec.ts). */
  readonly delegateExec?: Exec;
  readonly clock: Clock;
  readonly log: Logger;
  readonly source: NetworkSource;
  /** The devices the kubelet allocated to pods (pod-resources API), for NADs with a resourceName. */
  readonly podDevices?: PodDeviceSource;
  /** Watches a directory; returns a function that stops watching. */
  readonly watchDir: (dir: string, onChange: () => void) => () => void;
  /** Told about each request and delegate run (metrics). */
  readonly observer?: Pick<AgentObserver, 'request' | 'delegate'>;
  /** Called after each rescan of the conf dir (the node reporter listens). */
  readonly afterSync?: () => void;
  /**
   * Ends (SIGKILL, and waits for) every process whose environment holds name=value, but those that
   * still descend from the live process named by their `starter` variable; returns their ids. The agent
   * calls it at start with the mark its delegates carry, so that delegates a killed agent left running
   * cannot finish an ADD after the DEL that cleans it up, while those of an agent still running beside
   * it (a rolling update with a surge) finish their work.
   */
  readonly endProcesses?: (name: string, value: string, starter: string) => Promise<number[]>;
  /**
   * The DRA driver's claims (agent/dra/, loaded only when it is on): the networks a pod's prepared
   * ResourceClaims give it (attached after its annotation's), and where their attachments are reported.
   */
  readonly claims?: ClaimNetworkSource & ClaimStatusSink;
  /**
   * The conf-dir writer (default: createConfWriter of the options). The entry point builds it first
   * when others read through it too (the node reporter's scan and config state).
   */
  readonly confWriter?: ConfWriter;
  /**
   * The limiter CNI requests run under (default: createLimiter of the options). The entry point builds
   * it first when others use it too (metrics read its stats, --max-parallel auto resizes it).
   */
  readonly limiter?: WorkLimiter;
}

/** The options the conf-dir writer is made of. */
export type ConfWriterOptions = Pick<
  AgentOptions,
  'confDir' | 'confFileName' | 'shimName' | 'socketPath' | 'stateDir' | 'agentWaitSeconds' | 'cniVersion'
>;

/** The agent's conf-dir writer (00-multinet.conflist), which the resolver and the node reporter scan through. */
export function createConfWriter(
  options: ConfWriterOptions,
  deps: Pick<AgentDeps, 'fs' | 'clock' | 'log'>,
): ConfWriter {
  return new ConfWriter(
    deps.fs,
    {
      confDir: options.confDir,
      fileName: options.confFileName,
      shimType: options.shimName,
      socketPath: options.socketPath,
      stateDir: options.stateDir,
      agentWaitSeconds: options.agentWaitSeconds,
      cniVersion: options.cniVersion,
      networkName: 'multinet-cni-network',
    },
    deps.log.child({ component: 'conf-writer' }),
    () => new Date(deps.clock.now()),
  );
}

/** The limiter of the agent's CNI requests: options.concurrency at once, options.maxQueued waiting. */
export function createLimiter(options: Pick<AgentOptions, 'concurrency' | 'maxQueued'>): WorkLimiter {
  return new WorkLimiter(options.concurrency, options.maxQueued);
}

/**
 * The environment variable every delegate (and what it starts) carries: the agent's node and state dir
 * (delegateMarkValue), so an agent finds the delegates of its predecessor on this node, and no other
 * agent's.
 */
export const delegateMark = 'MULTINET_DELEGATE_OF';

/** The value of delegateMark: `<node>:<state dir>`, or the state dir alone when the node is not known. */
export function delegateMarkValue(stateDir: string, nodeName: string | undefined): string {
  return nodeName ? `${nodeName}:${stateDir}` : stateDir;
}

/** The environment variable every delegate carries besides delegateMark: the id of the agent that runs it. */
export const delegateStarterMark = 'MULTINET_DELEGATE_STARTER';

export interface Agent {
  readonly handler: RequestListener;
  /** Waits for the readiness indicator file (bounded); the handler does this before queueing an ADD. */
  readonly waitReady: () => Promise<void>;
  readonly confWriter: ConfWriter;
  readonly attacher: PodAttacher;
  /** Networks on running pods: told about the node's pods, converges their attachments to their annotation. */
  readonly hotPlug: HotPlug;
  readonly limiter: WorkLimiter;
  /** Writes the CNI config and starts following conf-dir changes. */
  start(): Promise<void>;
  /** Stops following changes. The generated CNI config stays in place on purpose. */
  stop(): void;
}

export function createAgent(options: AgentOptions, deps: AgentDeps): Agent {
  const { fs, exec, clock, log } = deps;
  const mark = delegateMarkValue(options.stateDir, options.nodeName);
  const pluginEnv = {
    ...options.pluginEnv,
    [delegateMark]: mark,
    ...(options.pid ? { [delegateStarterMark]: String(options.pid) } : {}),
  };
  const confWriter = deps.confWriter ?? createConfWriter(options, deps);
  const runner = new DelegateRunner({
    exec: deps.delegateExec ?? exec,
    fs,
    binDirs: options.binDirs,
    timeoutMs: options.delegateTimeoutMs,
    baseEnv: pluginEnv,
    log: log.child({ component: 'delegates' }),
    ...(deps.observer ? { observe: deps.observer.delegate.bind(deps.observer) } : {}),
  });
  const cache = new AttachmentCache(fs, options.stateDir);
  const resolver = new AttachmentResolver({
    source: deps.source,
    scan: () => confWriter.scan(),
    options: options.network,
    confDir: options.confDir,
    claims: deps.claims,
  });
  const waitReady = async (): Promise<void> => {
    const file = options.readinessIndicatorFile;
    if (!file) return;
    const deadline = clock.now() + options.readinessTimeoutMs;
    while (!(await fs.stat(file))) {
      if (clock.now() >= deadline) {
        throw new CniError(
          CniErrorCode.tryAgainLater,
          `the readiness indicator file ${file} does not exist (waited ${Math.round(options.readinessTimeoutMs / 1000)} s): the default network is not ready yet`,
        );
      }
      await clock.sleep(250);
    }
  };
  const limiter = deps.limiter ?? createLimiter(options);
  const devices = new DeviceAttacher({
    source: deps.podDevices,
    fs,
    infoDir: options.deviceInfoDir ?? defaultDeviceInfoDir,
    log: log.child({ component: 'devices' }),
  });
  const schedule = <T>(key: string, fn: () => Promise<T>): Promise<T> => limiter.run(key, fn);
  const hotPlug = new HotPlug({
    runner,
    resolver,
    source: deps.source,
    cache,
    devices,
    log: log.child({ component: 'hot-plug' }),
    schedule,
    defaultNetworks: options.network.defaultNetworks,
  });
  const attacher = new PodAttacher({
    runner,
    resolver,
    source: deps.source,
    cache,
    devices,
    fs,
    log: log.child({ component: 'attacher' }),
    setDefaultRoute: (netns, ifName, gateways) =>
      applyDefaultRoute(
        {
          exec,
          nsenter: options.nsenterPath,
          ip: options.ipPath,
          timeoutMs: options.delegateTimeoutMs,
          env: pluginEnv,
        },
        netns,
        ifName,
        gateways,
      ),
    schedule,
    now: () => clock.now(),
    claimStatus: deps.claims,
    ...(options.multusCacheDir
      ? { multus: new MultusCache(fs, options.multusCacheDir, options.runtimeCniCacheDir) }
      : {}),
  });
  const handler = createCniHandler({
    agentVersion: options.agentVersion ?? multinetVersion,
    stats: () => limiter.stats,
    handle: (request) => attacher.handle(request),
    // An ADD waits for the default network before it takes a slot, so DELs are never stuck behind it.
    prepare: (request) => (request.command === 'ADD' ? waitReady() : Promise.resolve()),
    log: log.child({ component: 'cni-server' }),
    ...(deps.observer ? { observe: deps.observer.request.bind(deps.observer) } : {}),
  });
  const stoppers: Array<() => void> = [];
  const resync = (): void => {
    confWriter
      .sync()
      .then(() => deps.afterSync?.())
      .catch((err: unknown) =>
        log.error('cannot update the CNI config', {
          error: err instanceof Error ? err.message : String(err),
        }),
      );
  };
  return {
    handler,
    waitReady,
    confWriter,
    attacher,
    hotPlug,
    limiter,
    async start() {
      // Delegates a killed agent left running: dead before any DEL is trusted to have cleaned up.
      const ended = (await deps.endProcesses?.(delegateMark, mark, delegateStarterMark)) ?? [];
      if (ended.length > 0) log.warn('ended the delegates a previous agent left running', { pids: ended });
      // What a killed agent left half-written: temp files of the cache, the config and the source's files.
      const swept = [
        ...(await cache.init()),
        ...(await fs.removeTempFiles(options.confDir, options.confFileName)),
      ];
      await deps.source.sweep?.();
      if (swept.length > 0) log.info('removed the temp files of unfinished writes', { files: swept });
      await confWriter.sync();
      stoppers.push(deps.watchDir(options.confDir, resync));
      const timer = setInterval(resync, options.resyncMs);
      timer.unref();
      stoppers.push(() => clearInterval(timer));
    },
    stop() {
      hotPlug.stop();
      for (const stop of stoppers.splice(0)) stop();
    },
  };
}
