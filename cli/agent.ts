/**
 * `multinet agent`: the node agent's entry. Parses flags, builds the agent from real ports and a
 * network source (the API server, or files with --standalone), installs the shim, listens on the CNI
 * socket (and the probe port), and runs until SIGINT/SIGTERM. The generated CNI config stays in place
 * on exit, so pods created while the agent restarts wait for it, unless the agent's own DaemonSet
 * (--owner-daemonset) is gone or being deleted: then multinet is being uninstalled, and the agent takes
 * its config and shim off the node so new pods get the node's default network.
 */
import { createAgent, createConfWriter, createLimiter, type ConfWriterOptions } from '../agent/agent.ts';
import type { KubeNetworking } from '../agent/kube-networking.ts';
import type { PodDeviceSource } from '../agent/devices.ts';
import type { DraDriver } from '../agent/dra/driver.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import type { NetworkSource } from '../agent/network-source.ts';
import { hostMountsExec } from '../agent/host-mounts-exec.ts';
import { findHostMountNamespace } from '../platform/nodejs/host-mount-namespace.ts';
import { endProcessesWithEnv } from '../platform/nodejs/orphans.ts';
import { serveAgent, type ServedAgent } from '../agent/serve.ts';
import { installShim, shimInspector } from '../agent/shim-installer.ts';
import { OwnerWatch } from '../agent/owner-daemonset.ts';
import { removeInstalled } from '../agent/uninstall.ts';
import { join } from 'node:path';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from 'winston';
import { createLogger } from '../platform/log.ts';
import { systemClock } from '../platform/nodejs/clock.ts';
import { nodeExec } from '../platform/nodejs/exec.ts';
import { SpawnerExec } from '../platform/nodejs/spawner-exec.ts';
import { adaptingExec, Parallelism } from '../agent/parallelism.ts';
import { cgroupMemoryLimit, residentBytes } from '../platform/nodejs/memory-limit.ts';
import { availableParallelism } from 'node:os';
import { nodeFileSystem } from '../platform/nodejs/fs.ts';
import { listenTcp, listenUnixSocket } from '../platform/nodejs/listen.ts';
import { watchDirectory } from '../platform/nodejs/watch.ts';
import { findExecutable } from '../platform/nodejs/which.ts';
import { multinetVersion } from '../platform/version.ts';
import { agentUsage, defaultPluginPath, parseAgentFlags } from './agent-flags.ts';
import type { CommandContext } from './io.ts';
import { ExitCode } from './io.ts';

export { agentUsage };

/** The mount namespace file delegates enter (undefined: run them here), or why it cannot be found. */
async function resolveHostMounts(
  flag: string | undefined,
  pid: number | undefined,
  log: Logger,
): Promise<string | undefined | Error> {
  if (flag !== 'auto') return flag;
  if (pid === undefined) return new Error('auto needs the process id of the entry point');
  const found = await findHostMountNamespace(pid);
  if (found.kind === 'unknown') return new Error(`cannot find the host's mount namespace: ${found.reason}`);
  if (found.kind === 'here') {
    log.info("delegates run in the agent's own mount namespace: it is the host's");
    return undefined;
  }
  log.info("delegates run in the host's mount namespace", { namespace: found.path });
  return found.path;
}

/**
 * Where this process sees the host's files: the root of the process whose mount namespace delegates enter
 * (/proc/<pid>/root, for a /proc/<pid>/ns/mnt), or its own root when it runs in the host's.
 */
export function hostRootOf(mountNamespace: string | undefined): string {
  return (mountNamespace && /^(\/proc\/[^/]+)\/ns\/mnt$/.exec(mountNamespace)?.[1]?.concat('/root')) || '/';
}

export async function runAgent(args: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseAgentFlags(args, context.env);
  const log = createLogger({
    level: flags.logLevel,
    format: flags.logFormat,
    file: flags.logFile,
    stream: context.logStream,
  });
  const ip = findExecutable('ip', context.env.PATH);
  const nsenter = findExecutable('nsenter', context.env.PATH);

  if (!ip || !nsenter) {
    context.io.stderr(
      `multinet agent: ${!ip ? '"ip" (iproute2)' : '"nsenter" (util-linux)'} is not installed; the agent needs it\n`,
    );
    return ExitCode.failed;
  }
  // Plugins and tools killed with their process group on a timeout (the entry point's ProcessPort).
  const nodeSpawn = nodeExec(
    context.process ? { killGroup: (pid, signal) => context.process?.kill(-pid, signal) } : {},
  );
  // Started by the spawner, a small child process, unless there is none (then by Node, loudly).
  const spawner = flags.spawner
    ? new SpawnerExec({ file: flags.spawner, fallback: nodeSpawn, log: log.child({ component: 'spawner' }) })
    : undefined;
  // --max-parallel auto: per CPU, and within the memory limit at the largest delegate run measured.
  const memoryLimitBytes = flags.maxParallel === 'auto' ? cgroupMemoryLimit() : undefined;
  const parallelism =
    flags.maxParallel === 'auto'
      ? new Parallelism({
          cpus: availableParallelism(),
          memoryLimitBytes,
          ownBytes: () => residentBytes(spawner?.pid ? ['self', spawner.pid] : ['self']),
        })
      : undefined;
  // Built before the agent, as parts others share: the limiter (metrics read it, the parallelism
  // resizes it) and the conf-dir writer (the node reporter scans through it).
  const limits = {
    concurrency: flags.maxParallel === 'auto' ? (parallelism?.limit() ?? 1) : flags.maxParallel,
    maxQueued: flags.maxQueued,
  };
  const limiter = createLimiter(limits);
  const confOptions = {
    confDir: flags.cniConfDir,
    confFileName: flags.confFileName,
    shimName: flags.shimName,
    socketPath: flags.socket,
    stateDir: flags.stateDir,
    agentWaitSeconds: flags.agentWaitSeconds,
    cniVersion: flags.cniVersion,
  } satisfies ConfWriterOptions;
  const confWriter = createConfWriter(confOptions, { fs: nodeFileSystem, clock: systemClock, log });
  let kube: KubeNetworking | undefined;
  const metrics = createAgentMetrics({
    inFlight: () => limiter.stats.running + limiter.stats.waiting,
    cached: () => kube?.cached(),
  });
  let source: NetworkSource;
  const shimState = shimInspector(nodeFileSystem, nodeSpawn, {
    installed: join(flags.shimDir ?? flags.cniBinDirs[0]!, flags.shimName),
    source: flags.shimSource,
    agentVersion: multinetVersion,
  });
  if (flags.standalone) {
    // Each mode loads only its own source: manifests (js-yaml) standalone, the API client otherwise.
    const { StandaloneSource } = await import('../agent/standalone-source.ts');
    source = new StandaloneSource(
      nodeFileSystem,
      { nadDir: flags.nadDir!, podDir: flags.podDir, stateDir: flags.stateDir, now: () => systemClock.now() },
      log.child({ component: 'source' }),
    );
  } else {
    const { connectKubeNetworking } = await import('../agent/kube-networking.ts');
    try {
      kube = connectKubeNetworking({
        kubeconfig: flags.kubeconfig,
        env: context.env,
        nodeName: flags.nodeName!,
        stateDir: flags.stateDir,
        binDirs: flags.cniBinDirs,
        confDir: flags.cniConfDir,
        agentVersion: multinetVersion,
        heartbeatMs: flags.heartbeatSeconds * 1000,
        fs: nodeFileSystem,
        clock: systemClock,
        log,
        scan: () => confWriter.scan(),
        facts: async () => ({ shim: await shimState(), cniConfig: await confWriter.state() }),
        observeStatusWrite: (outcome, seconds) => metrics.statusWrite(outcome, seconds),
      });
    } catch (err) {
      context.io.stderr(`multinet agent: ${errorMessage(err)}\n`);
      return ExitCode.failed;
    }
    source = kube.source;
  }
  // The DRA driver (and node:http2 with it) only when it is on: agents without it do not load it.
  let dra: DraDriver | undefined;
  if (flags.dra && kube) {
    const { createDraDriver } = await import('../agent/dra/driver.ts');
    const networking = kube;
    dra = createDraDriver({
      client: networking.client,
      nodeName: flags.nodeName!,
      stateDir: flags.stateDir,
      registryDir: flags.kubeletRegistryDir,
      fs: nodeFileSystem,
      log,
      networks: () => networking.store.all(),
    });
    const driver = dra;
    kube.reporter.onUsable = (networks) => driver.publish(networks);
  }
  // The kubelet's pod-resources client (and node:http2) are loaded on the first ADD of a device network.
  let podResources: Promise<{ devicesOf: PodDeviceSource['devicesOf']; close(): void }> | undefined;
  const podDevices: PodDeviceSource = {
    devicesOf: async (pod) => {
      podResources ??= import('../platform/kubelet/pod-resources.ts').then(
        ({ PodResourcesClient }) =>
          new PodResourcesClient({
            socketPath: flags.podResourcesSocket,
            timeoutMs: flags.podResourcesTimeoutSeconds * 1000,
            observe: (outcome, seconds) => metrics.podResources(outcome, seconds),
          }),
      );
      return (await podResources).devicesOf(pod);
    },
  };
  const exec = parallelism
    ? adaptingExec(spawner ?? nodeSpawn, parallelism, (limit) => {
        limiter.resize(limit);
        log.info('CNI requests served at once', {
          limit,
          byCpu: parallelism.byCpu,
          largestDelegateMiB: Math.round(parallelism.largestRunMiB),
        });
      })
    : (spawner ?? nodeSpawn);
  const hostMounts = await resolveHostMounts(flags.hostMountNamespace, context.process?.pid, log);
  if (hostMounts instanceof Error) {
    context.io.stderr(`multinet agent: --host-mount-ns: ${hostMounts.message}\n`);
    return ExitCode.failed;
  }
  const agent = createAgent(
    {
      ...confOptions,
      ...limits,
      binDirs: flags.cniBinDirs,
      network: flags.network,
      delegateTimeoutMs: flags.delegateTimeoutSeconds * 1000,
      readinessIndicatorFile: flags.readinessIndicatorFile,
      readinessTimeoutMs: flags.readinessTimeoutSeconds * 1000,
      ipPath: ip,
      nsenterPath: nsenter,
      pluginEnv: { PATH: context.env.PATH ?? defaultPluginPath },
      resyncMs: 30_000,
      nodeName: flags.nodeName,
      pid: context.process?.pid,
      deviceInfoDir: flags.deviceInfoDir,
      multusCacheDir: flags.multusCacheDir && join(hostRootOf(hostMounts), flags.multusCacheDir),
      runtimeCniCacheDir: flags.runtimeCniCacheDir && join(hostRootOf(hostMounts), flags.runtimeCniCacheDir),
    },
    {
      fs: nodeFileSystem,
      exec,
      delegateExec: hostMounts ? hostMountsExec(exec, nsenter, hostMounts) : exec,
      clock: systemClock,
      log,
      source,
      podDevices,
      watchDir: watchDirectory,
      observer: metrics,
      confWriter,
      limiter,
      ...(dra ? { claims: dra.claims } : {}),
      afterSync: () => kube?.reporter.trigger(),
      ...(context.process
        ? {
            endProcesses: (name: string, value: string, starter: string) =>
              endProcessesWithEnv(name, value, {
                starterVariable: starter,
                kill: (pid) => context.process?.kill(pid, 'SIGKILL'),
                clock: systemClock,
              }),
          }
        : {}),
    },
  );
  if (parallelism)
    log.info('CNI requests served at once', {
      limit: limiter.limit,
      byCpu: parallelism.byCpu,
      ...(memoryLimitBytes ? { memoryLimitMiB: Math.round(memoryLimitBytes / 2 ** 20) } : {}),
    });
  let served: ServedAgent | undefined;
  let owner: OwnerWatch | undefined;
  // The serving file names this process: a successor's (the same path on one host) is left alone.
  const servingMark = `${context.process?.pid ?? 'agent'}\n`;
  const removeServingFile = async (): Promise<void> => {
    if (!flags.servingFile) return;
    const content = await nodeFileSystem.readFile(flags.servingFile).catch(() => undefined);
    if (content === servingMark) await nodeFileSystem.remove(flags.servingFile);
  };
  const shutdown = async (): Promise<void> => {
    agent.stop();
    await removeServingFile();
    void podResources?.then(
      (client) => client.close(),
      () => undefined,
    );
    // Requests in flight finish first: they may still read the informers and patch their pods.
    await served?.close();
    await dra?.stop();
    await Promise.all([owner?.stop(), kube?.stop()]);
    // Then the plugins' spawner (what it still runs dies with it).
    await spawner?.stop();
  };
  try {
    if (flags.shimSource) {
      await installShim(
        nodeFileSystem,
        flags.shimSource,
        flags.shimDir ?? flags.cniBinDirs[0]!,
        flags.shimName,
        log,
      );
    } else {
      log.warn(
        'no --shim-source given: the CNI shim is not installed (the runtime must find multinet-cni itself)',
      );
    }
    await spawner?.start();
    await agent.start();
    // Networks on running pods: the pod informer's pods (all of them when it lists, then each change).
    kube?.onPods({
      changed: (pod) => agent.hotPlug.podChanged(pod),
      deleted: (uid) => agent.hotPlug.podDeleted(uid),
    });
    await kube?.start();
    await dra?.start((server, path) => listenUnixSocket(server, path));
    if (kube && flags.ownerDaemonSet) {
      owner = new OwnerWatch(kube.client, flags.ownerDaemonSet, log);
      owner.start();
    }
    served = await serveAgent(
      agent,
      {
        socketPath: flags.socket,
        probe: flags.probeListen,
        registry: metrics.registry,
        ...(kube ? { ready: { informers: () => kube.synced() } } : {}),
        log,
      },
      { unixSocket: listenUnixSocket, tcp: listenTcp },
    );
    if (flags.servingFile) await nodeFileSystem.writeFileAtomic(flags.servingFile, servingMark);
  } catch (err) {
    log.error('agent failed to start', { error: errorMessage(err) });
    await shutdown();
    return ExitCode.failed;
  }
  log.info('multinet agent ready', {
    socket: flags.socket,
    confDir: flags.cniConfDir,
    mode: flags.standalone ? 'standalone' : 'kubernetes',
    ...(flags.nodeName ? { node: flags.nodeName } : {}),
    ...(dra ? { draSocket: dra.socketPath } : {}),
  });
  await new Promise<void>((resolve) => {
    if (context.signal.aborted) resolve();
    context.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (owner) {
    const verdict = await owner.verdict(AbortSignal.timeout(5000));
    if (verdict.removed) {
      const removed = await removeInstalled(
        nodeFileSystem,
        {
          confDir: flags.cniConfDir,
          confFileName: flags.confFileName,
          shimType: flags.shimName,
          shimPath: join(flags.shimDir ?? flags.cniBinDirs[0]!, flags.shimName),
          shimSource: flags.shimSource,
        },
        log,
      );
      log.info('multinet is being uninstalled: the node is back on its default network', {
        reason: verdict.reason,
        removed,
      });
      await shutdown();
      return ExitCode.ok;
    }
    log.info('stopping; the generated CNI config stays in place so new pods wait for the agent', {
      reason: verdict.reason,
    });
  } else {
    log.info('stopping; the generated CNI config stays in place so new pods wait for the agent');
  }
  await shutdown();
  return ExitCode.ok;
}
