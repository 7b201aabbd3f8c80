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
import { mkdir, mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { NodeBinaries } from '../binaries.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { waitUntil } from '../controlplane/readiness.ts';
import type { ServerProcess } from '../controlplane/server-process.ts';
import { registryRepositories, type BuiltImage } from '../node/images.ts';
import { runKubectl } from '../node/kube-node.ts';
import { extendMachineLock, runMark, takeMachineLock } from '../node/machine-lock.ts';
import { controllerManagerArgs, schedulerArgs, writeControllerCredentials } from '../node/node-config.ts';
import { daemonPath, prepareRun, Teardown, type LocalRunOptions } from '../node/local-run.ts';
import type { NodeHost } from '../node/prerequisites.ts';
import { startLocalRegistry } from '../node/registry.ts';
import { RunLedger, waitForPodPrerequisites } from '../node/run-ledger.ts';
import { ClusterNode, nodePrivateDirs } from './cluster-node.ts';
import { clusterPlan, underlay, type ClusterPlan } from './plan.ts';
import { createUnderlay, deleteUnderlay } from './underlay-network.ts';

export interface KubeClusterOptions extends LocalRunOptions {
  /** How many nodes (1 to plan.ts's maxNodes). */
  readonly nodes: number;
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
  const plan = clusterPlan(randomBytes(3).toString('hex'), options.nodes);
  const { host, binaries, images } = await prepareRun(options, 'the local Kubernetes nodes', ['whereabouts']);
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
  );

  // Only now: taking the lock may have cleaned up a killed run, and with it the mountpoints it made.
  const mountpoints = missingMountpoints();
  await extendMachineLock(dir, { mountpoints });
  const ledger = new RunLedger(dir, {
    logDir: dir,
    env: { PATH: daemonPath(options.cacheDir), HOME: dir, [runMark]: dir },
    kill: options.kill,
  });
  const nodes: ClusterNode[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async (): Promise<void> => {
      ledger.beginStop();
      const teardown = new Teardown();
      for (const node of [...nodes].reverse()) await teardown.attempt(`stop ${node.name}`, () => node.stop());
      await ledger.stopProcesses(teardown);
      await ledger.stopRegistryAndControlPlane(teardown);
      teardown.problems.push(...(await deleteUnderlay(plan, host.tools.ip)));
      await ledger.restoreHost(teardown);
      for (const d of mountpoints) {
        await rmdir(d).catch((err: NodeJS.ErrnoException) => {
          // Gone already (restoreHost removes the fixed dirs it found missing) is what is wanted.
          if (err.code !== 'ENOENT')
            teardown.problems.push(`cannot remove ${d}, made as a mountpoint: ${err.code ?? err.message}`);
        });
      }
      await ledger.removeRunDir(teardown);
      teardown.finish('the local cluster');
    })());

  try {
    await ledger.snapshotHost();
    for (const d of [...mountpoints].reverse()) await mkdir(d);
    log(`making the underlay (${underlay.subnet}) and ${plan.nodes.length} node namespaces`);
    await createUnderlay(plan, host.tools.ip);
    const labPath = `/run/netns/${plan.labNetns}`;
    log('starting the control plane in the underlay (node profile: ServiceAccount admission, Node+RBAC)');
    const cp = (ledger.controlPlane = await startControlPlane({
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
    }));
    const { repositories, hosts } = registryRepositories(images);
    const registry = (ledger.registry = await startLocalRegistry(repositories, options.listen));
    const deadline = Date.now() + timeoutMs;
    const pathEnv = daemonPath(options.cacheDir);
    const inLab = (command: string, args: readonly string[]): { command: string; args: string[] } => ({
      command: host.tools.nsenter,
      args: [`--net=${labPath}`, '--', command, ...args],
    });
    const start = (
      name: string,
      command: { command: string; args: readonly string[] },
    ): Promise<ServerProcess> => ledger.start(name, command.command, command.args);
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
    const daemons = (): ServerProcess[] => [...ledger.servers, ...nodes.flatMap((n) => n.daemons)];
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
    await waitForPodPrerequisites(core, daemons(), deadline, timeoutMs, options.signal);
    log(
      `${nodes.length} nodes Ready ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the start (run dir ${dir})`,
    );
    const unexpectedExit = ledger.unexpectedExit();
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
    const nodeDaemons = nodes.flatMap((n) => n.daemons);
    return ledger.failedStart(err, 'the local cluster', nodeDaemons, stopAll, options.signal);
  }
}
