/**
 * A real Kubernetes cluster of several nodes on this machine, without Docker: each node a kubelet with its
 * own containerd in network and mount namespaces of its own (cluster-node.ts), joined by an underlay
 * bridge in a lab namespace where the control plane runs (etcd, kube-apiserver at 192.0.2.1:6443,
 * kube-controller-manager, kube-scheduler); images come from the local registry on the host's loopback
 * through a relay on the underlay. The host's own interfaces get no listener and no link: this process
 * and kubectl reach the API server through a relay on 127.0.0.1 (see plan.ts for the addresses).
 *
 *   const cluster = await startKubeCluster({ nodes: 3, cacheDir, env, uid, pid, kill, listen, log });
 *   try { ... cluster.kubectl(['get', 'nodes']) ... } finally { await cluster.stop(); }
 *
 * It takes the same machine lock as the single node (machine-lock.ts): one local cluster at a time.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { errorMessage } from '../../lib/errors.ts';
import type { Kill } from '../../lib/ports.ts';
import { ensureNodeBinaries, type Env, type NodeBinaries } from '../binaries.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { waitUntil } from '../controlplane/readiness.ts';
import { logTail, startServerProcess, type ServerProcess } from '../controlplane/server-process.ts';
import { restoreHost, snapshotHost, snapshotJson, type HostSnapshot } from '../node/host-state.ts';
import { buildImages, registryRepositories, type BuiltImage, type ImageName } from '../node/images.ts';
import { runKubectl } from '../node/kube-node.ts';
import {
  extendMachineLock,
  releaseMachineLock,
  runMark,
  snapshotFile,
  takeMachineLock,
} from '../node/machine-lock.ts';
import { controllerManagerArgs, schedulerArgs, writeControllerCredentials } from '../node/node-config.ts';
import { checkNodeHost, type NodeHost } from '../node/prerequisites.ts';
import { startLocalRegistry, type ListenLoopback, type LocalRegistry } from '../node/registry.ts';
import { ClusterNode, nodePrivateDirs } from './cluster-node.ts';
import { clusterPlan, underlay, type ClusterPlan } from './plan.ts';
import { createUnderlay, deleteUnderlay } from './underlay-network.ts';

export interface KubeClusterOptions {
  /** How many nodes (1 to plan.ts's maxNodes). */
  readonly nodes: number;
  /** Cache root of dev/build.sh and dev/images/build.sh. */
  readonly cacheDir: string;
  /** Environment for the build scripts (PATH to find go, HOME, Go caches). */
  readonly env: Env;
  /** The entry point's process.getuid() and process.pid (recorded in the machine's lock). */
  readonly uid: number | undefined;
  readonly pid: number;
  /** The entry point's process.kill. */
  readonly kill: Kill;
  /** The entry point's way to listen on 127.0.0.1 (for the registry). */
  readonly listen: ListenLoopback;
  readonly log?: (line: string) => void;
  /** Images to build and serve besides pause and alpine (e.g. multinet's own). */
  readonly extraImages?: readonly ImageName[];
  /** Parent of the run dir (default os.tmpdir()). */
  readonly tmpRoot?: string;
  /** Wait (up to this long) for another local node of this machine to stop instead of refusing to start. */
  readonly waitForOtherNodeMs?: number;
  /** How long the nodes may take to become Ready once everything is built (default 180 s). */
  readonly startTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface KubeCluster {
  readonly controlPlane: ControlPlane;
  readonly plan: ClusterPlan;
  readonly nodes: readonly ClusterNode[];
  readonly binaries: NodeBinaries;
  readonly host: NodeHost;
  readonly images: readonly BuiltImage[];
  readonly kubectlPath: string;
  readonly helmPath: string;
  /** Where nodes and pods reach the API server (KUBERNETES_SERVICE_HOST/PORT): the underlay's address. */
  readonly apiGateway: { readonly host: string; readonly port: number };
  readonly adminKubeconfigPath: string;
  /** The run dir (per-node dirs below it). */
  readonly dir: string;
  kubeConfig(): KubeConfig;
  kubectl(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Resolves once every node is Ready (after a node was stopped and started again, say). */
  waitForNodesReady(timeoutMs?: number): Promise<void>;
  /** Resolves with a description when a component exits without being asked to. */
  readonly unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

/** Dirs (and their parents) that do not exist on the host and must, as mountpoints: innermost first. */
function missingMountpoints(): string[] {
  const created: string[] = [];
  for (const dir of nodePrivateDirs) {
    const chain: string[] = [];
    for (let d: string = dir; d !== '/' && !existsSync(d); d = dirname(d)) chain.push(d);
    for (const d of chain) if (!created.includes(d)) created.push(d);
  }
  // Innermost first: deeper paths before their parents.
  return created.sort((a, b) => b.split('/').length - a.split('/').length);
}

/** Starts the cluster and resolves once every node is Ready and pods can get ServiceAccount tokens. */
export async function startKubeCluster(options: KubeClusterOptions): Promise<KubeCluster> {
  const log = options.log ?? ((): void => undefined);
  const check = await checkNodeHost({ uid: options.uid, path: options.env.PATH });
  if (!check.ok) {
    throw new Error(
      `this machine cannot run the local Kubernetes nodes; missing:\n  - ${check.missing.join('\n  - ')}`,
    );
  }
  const host = check.host;
  const id = randomBytes(3).toString('hex');
  const plan = clusterPlan(id, options.nodes);
  const buildOptions = {
    cacheDir: options.cacheDir,
    env: options.env,
    kill: options.kill,
    log,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const binaries = await ensureNodeBinaries({ ...buildOptions, also: ['whereabouts'] });
  const images = await buildImages(
    ['pause', 'alpine', ...(options.extraImages ?? [])],
    options.cacheDir,
    options.env,
    log,
    options.signal,
  );
  const startedAt = Date.now();
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'multinet-node-'));
  await takeMachineLock(
    {
      pid: options.pid,
      dir,
      cgroups: plan.nodes.map((n) => n.cgroup),
      links: [],
      netns: [...plan.nodes.map((n) => n.netns), plan.labNetns],
    },
    options,
    host,
    log,
  ).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });

  // Only now: taking the lock may have cleaned up a killed run, and with it the mountpoints it made.
  const mountpoints = missingMountpoints();
  await extendMachineLock(dir, { mountpoints });
  const servers: ServerProcess[] = [];
  const nodes: ClusterNode[] = [];
  let snapshot: HostSnapshot | undefined;
  let controlPlane: ControlPlane | undefined;
  let registry: LocalRegistry | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async (): Promise<void> => {
      const problems: string[] = [];
      const attempt = async (what: string, work: () => Promise<unknown>): Promise<void> => {
        try {
          await work();
        } catch (err) {
          problems.push(`${what}: ${errorMessage(err)}`);
        }
      };
      for (const node of [...nodes].reverse()) await attempt(`stop ${node.name}`, () => node.stop());
      for (const server of [...servers].reverse())
        await attempt(`stop ${server.name}`, () => server.stop(10_000));
      await attempt('stop the registry', async () => registry?.close());
      await attempt('stop the control plane', async () => controlPlane?.stop());
      problems.push(...(await deleteUnderlay(plan, host.tools.ip)));
      if (snapshot) problems.push(...(await restoreHost(snapshot)));
      for (const d of mountpoints) {
        await rmdir(d).catch((err: NodeJS.ErrnoException) => {
          // Gone already (restoreHost removes the fixed dirs it found missing) is what is wanted.
          if (err.code !== 'ENOENT')
            problems.push(`cannot remove ${d}, made as a mountpoint: ${err.code ?? err.message}`);
        });
      }
      await attempt('remove the run dir', () => rm(dir, { recursive: true, force: true }));
      await releaseMachineLock(dir);
      if (problems.length > 0)
        throw new Error(`the local cluster did not stop cleanly:\n  - ${problems.join('\n  - ')}`);
    })());

  try {
    snapshot = await snapshotHost();
    await writeFile(join(dir, snapshotFile), snapshotJson(snapshot), { mode: 0o600 });
    for (const d of [...mountpoints].reverse()) await mkdir(d);
    log(`making the underlay (${underlay.subnet}) and ${plan.nodes.length} node namespaces`);
    await createUnderlay(plan, host.tools.ip);
    const labPath = `/run/netns/${plan.labNetns}`;
    log('starting the control plane in the underlay (node profile: ServiceAccount admission, Node+RBAC)');
    controlPlane = await startControlPlane({
      cacheDir: options.cacheDir,
      env: options.env,
      kill: options.kill,
      log,
      profile: 'node',
      serverEnv: { [runMark]: dir },
      netns: {
        path: labPath,
        address: underlay.labAddress,
        nsenter: host.tools.nsenter,
        relay: binaries.apiGateway,
        serviceClusterIpRange: underlay.serviceClusterIpRange,
      },
      tmpRoot: dir,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const cp = controlPlane;
    const { repositories, hosts } = registryRepositories(images);
    registry = await startLocalRegistry(repositories, options.listen);
    const deadline = Date.now() + timeoutMs;
    const pathEnv = [
      join(options.cacheDir, 'bin'),
      '/usr/local/sbin',
      '/usr/local/bin',
      '/usr/sbin',
      '/usr/bin',
      '/sbin',
      '/bin',
    ].join(':');
    const serverEnv = { PATH: pathEnv, HOME: dir, [runMark]: dir };
    const inLab = (command: string, args: readonly string[]): { command: string; args: string[] } => ({
      command: host.tools.nsenter,
      args: [`--net=${labPath}`, '--', command, ...args],
    });
    const start = async (
      name: string,
      command: { command: string; args: readonly string[] },
    ): Promise<ServerProcess> => {
      const server = await startServerProcess({
        name,
        ...command,
        logFile: join(dir, `${name}.log`),
        cwd: dir,
        env: serverEnv,
        kill: options.kill,
      });
      servers.push(server);
      return server;
    };
    await start('registry-relay', {
      command: binaries.apiGateway,
      args: [
        '-netns',
        labPath,
        '-listen',
        `${underlay.labAddress}:${underlay.registryPort}`,
        '-target',
        registry.address,
      ],
    });
    log('starting kube-controller-manager and kube-scheduler in the underlay');
    const inLabUrl = `https://127.0.0.1:${new URL(cp.nodeUrl).port}`;
    const controllerFiles = {
      controllerManagerKubeconfig: join(dir, 'controller-manager.kubeconfig'),
      schedulerKubeconfig: join(dir, 'scheduler.kubeconfig'),
    };
    await writeControllerCredentials(controllerFiles, cp.ca, inLabUrl);
    await start(
      'kube-controller-manager',
      inLab(
        binaries.kubeControllerManager,
        controllerManagerArgs({
          kubeconfig: controllerFiles.controllerManagerKubeconfig,
          port: 10257,
          dir,
          files: cp.files,
        }),
      ),
    );
    await start(
      'kube-scheduler',
      inLab(
        binaries.kubeScheduler,
        schedulerArgs({ kubeconfig: controllerFiles.schedulerKubeconfig, port: 10259, dir }),
      ),
    );
    const pause = images.find((i) => i.name === 'pause')!;
    for (const nodePlan of plan.nodes) {
      const node = new ClusterNode({
        plan: nodePlan,
        dir: join(dir, nodePlan.name),
        host,
        binaries,
        kill: options.kill,
        pathEnv,
        sandboxImage: pause.reference,
        registryHosts: hosts,
        env: { [runMark]: dir },
        log,
      });
      nodes.push(node);
      await node.prepare(cp.ca, cp.nodeUrl);
      log(`starting ${node.name} (${node.address}, pods ${nodePlan.podSubnet})`);
      await node.start(deadline, timeoutMs, options.signal);
    }
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    const daemons = (): ServerProcess[] => [...servers, ...nodes.flatMap((n) => n.daemons)];
    const waitForNodesReady = async (waitMs = timeoutMs): Promise<void> => {
      await waitUntil(
        `nodes ${plan.nodes.map((n) => n.name).join(', ')} to be Ready`,
        async () => {
          const list = await core.listNode();
          const states = plan.nodes.map((n) => {
            const found = list.items.find((item) => item.metadata?.name === n.name);
            const ready = found?.status?.conditions?.find((c) => c.type === 'Ready');
            return { name: n.name, ready: ready?.status === 'True', why: ready?.message ?? 'not registered' };
          });
          return {
            ok: states.every((s) => s.ready),
            detail: states
              .filter((s) => !s.ready)
              .map((s) => `${s.name}: ${s.why}`)
              .join('; '),
          };
        },
        daemons(),
        Date.now() + waitMs,
        waitMs,
        options.signal,
      );
    };
    await waitForNodesReady(Math.max(1000, deadline - Date.now()));
    await waitUntil(
      'the default ServiceAccount and kube-root-ca.crt',
      async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' });
        return { ok: true, detail: '' };
      },
      daemons(),
      deadline,
      timeoutMs,
      options.signal,
    );
    log(
      `${nodes.length} nodes Ready ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the start (run dir ${dir})`,
    );
    let reportExit: (what: string) => void = () => undefined;
    const unexpectedExit = new Promise<string>((resolve) => (reportExit = resolve));
    for (const server of servers) {
      void server.exited.then((status) => {
        if (!stopping) reportExit(`${server.name} ${status}; see ${server.logFile}`);
      });
    }
    void cp.unexpectedExit.then((what) => reportExit(what));
    const kubectlPath = cp.binaries.kubectl;
    return {
      controlPlane: cp,
      plan,
      nodes,
      binaries,
      host,
      images,
      kubectlPath,
      helmPath: cp.binaries.helm,
      apiGateway: { host: underlay.labAddress, port: Number(new URL(cp.nodeUrl).port) },
      adminKubeconfigPath: cp.adminKubeconfigPath,
      dir,
      kubeConfig: () => cp.kubeConfig(),
      kubectl: (args, stdin) => runKubectl(kubectlPath, cp.adminKubeconfigPath, args, stdin),
      waitForNodesReady,
      unexpectedExit,
      stop: stopAll,
    };
  } catch (err) {
    const reports: string[] = [];
    for (const server of [...servers, ...nodes.flatMap((n) => n.daemons)]) {
      const tail = await logTail(server.logFile, 15);
      reports.push(`--- last lines of the ${server.name} log ---\n${tail || '(empty)'}`);
    }
    await stopAll().catch((stopErr: unknown) => reports.push(errorMessage(stopErr)));
    if (options.signal?.aborted) throw err;
    throw new Error(`the local cluster did not start: ${errorMessage(err)}\n${reports.join('\n')}`, {
      cause: err,
    });
  }
}
