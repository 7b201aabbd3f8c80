/**
 * A real single-node Kubernetes cluster on this machine, without Docker: the control plane
 * (dev/controlplane, in its `node` profile), kube-controller-manager, kube-scheduler, containerd 2 with
 * Debian's runc, and a kubelet named `localhost`, all on 127.0.0.1 and unix sockets under one run dir;
 * images come from a local registry mirror; the node's default network is a bridge in a documentation
 * range. `stop()` undoes everything it did to the host (see host-state.ts and cgroups.ts).
 *
 *   const node = await startKubeNode({ cacheDir, env, uid, kill, listen, log });
 *   try { ... node.kubectl(['get', 'nodes']) ... } finally { await node.stop(); }
 *
 * Only one runs per machine at a time (libcni, containerd and the kubelet share fixed host paths): a
 * lock file in /run says which, and a node whose process died is cleaned up by the next start.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readdir, realpath, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { freeLoopbackPort } from '../../platform/nodejs/listen.ts';
import type { NodeBinaries } from '../binaries.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { waitUntil } from '../controlplane/readiness.ts';
import { NodeCgroups } from './cgroups.ts';
import { unmountBelow } from './host-state.ts';
import { runMark, takeMachineLock } from './machine-lock.ts';
import { registryRepositories, type BuiltImage } from './images.ts';
import {
  nodeLayout,
  nodeName,
  podNetwork,
  renderFlannelSubnetEnv,
  type DefaultNetworkKind,
  renderContainerdConfig,
  renderDefaultNetwork,
  renderKubeletConfig,
  renderRegistryHosts,
  controllerManagerArgs,
  schedulerArgs,
  writeNodeCredentials,
  type NodeLayout,
  type NodePorts,
} from './node-config.ts';
import { daemonPath, prepareRun, Teardown, type LocalRunOptions } from './local-run.ts';
import type { NodeHost } from './prerequisites.ts';
import { startLocalRegistry } from './registry.ts';
import { RunLedger, waitForPodPrerequisites } from './run-ledger.ts';
import {
  createVfLinks,
  kubeletDevicePluginDir,
  startVfDevicePlugin,
  vfResourceName,
  type NodeVfs,
} from './vfs.ts';

const run = promisify(execFile);

export { lockFile } from './machine-lock.ts';

export interface KubeNodeOptions extends LocalRunOptions {
  /** The node's default network: a bridge (default), or Flannel's plugin over a subnet.env (needs its source). */
  readonly defaultNetwork?: DefaultNetworkKind;
  /** Stand-in SR-IOV VFs advertised as multinet.dev/vf by the test device plugin (default 4; 0: none). */
  readonly vfs?: number;
}

export interface KubeNode {
  readonly controlPlane: ControlPlane;
  readonly layout: NodeLayout;
  readonly binaries: NodeBinaries;
  readonly kubectlPath: string;
  readonly helmPath: string;
  readonly images: readonly BuiltImage[];
  readonly host: NodeHost;
  /** The registry mirror (host:port) that serves the images. */
  readonly registry: string;
  /** The name of the node: `localhost`. */
  readonly nodeName: string;
  /** The kubelet's cgroupRoot: pods' cgroups are below it (kubepods/<qos>/pod<uid>) in every hierarchy. */
  readonly podsCgroupRoot: string;
  /** One end of a veth pair on the host, for macvlan networks (the other end is up too). */
  readonly macvlanMaster: string;
  /** The pods' bridge (the host holds the pod subnet's gateway address on it). */
  readonly bridge: string;
  /** The stand-in VFs (dev/node/vfs.ts) and where the agent finds the kubelet's and the device plugin's files. */
  readonly vfs: NodeVfs;
  /** Where pods reach the API server (KUBERNETES_SERVICE_HOST/PORT): there is no kube-proxy. */
  readonly apiGateway: { readonly host: string; readonly port: number };
  /** The admin kubeconfig (a user in system:masters). */
  readonly adminKubeconfigPath: string;
  kubeConfig(): KubeConfig;
  /** Runs the cached kubectl with the admin kubeconfig. */
  kubectl(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Resolves with a description when a component exits without being asked to. */
  readonly unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Links (or copies) the reference plugins, Flannel's (where built) and the stand-in VFs' ("vf") into the
 * node's one CNI bin dir, as on a node.
 */
async function installPlugins(binaries: NodeBinaries, binDir: string): Promise<void> {
  const plugins = (await readdir(binaries.cniPlugins)).map((name) => join(binaries.cniPlugins, name));
  const flannel = existsSync(binaries.flannel) ? [binaries.flannel] : [];
  const named = [...plugins, ...flannel].map((source) => [source, basename(source)] as const);
  for (const [source, name] of [...named, [binaries.vfCni, 'vf'] as const]) {
    const target = join(binDir, name);
    await link(await realpath(source), target).catch(() => copyFile(source, target));
  }
}

function tcpConnects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function freePorts(): Promise<NodePorts> {
  return {
    kubelet: await freeLoopbackPort(),
    kubeletHealthz: await freeLoopbackPort(),
    controllerManager: await freeLoopbackPort(),
    scheduler: await freeLoopbackPort(),
  };
}

/** Starts the node and resolves once `localhost` is Ready and pods can get ServiceAccount tokens. */
export async function startKubeNode(options: KubeNodeOptions): Promise<KubeNode> {
  const log = options.log ?? ((): void => undefined);
  const { host, binaries, images } = await prepareRun(
    options,
    'the local Kubernetes node',
    options.defaultNetwork === 'flannel' ? ['flannel'] : [],
  );
  const startedAt = Date.now();
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const id = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'multinet-node-'));
  const layout = nodeLayout(dir);
  const cgroups = new NodeCgroups(host.cgroups, `multinet-node-${id}`);
  const bridge = `mn${id}br`;
  const macvlanMaster = `mn${id}m0`;
  const apiNetns = `mn${id}api`;
  const links = [bridge, macvlanMaster, `mn${id}a0`];
  const namespaces = [apiNetns];
  await takeMachineLock(
    { pid: options.pid, dir, cgroup: cgroups.name, links, netns: namespaces },
    options,
    host,
    log,
  );

  const ledger = new RunLedger(dir, {
    logDir: layout.logs,
    env: { PATH: daemonPath(options.cacheDir), HOME: dir },
    kill: options.kill,
    cgroupProcs: cgroups.daemonProcsFiles,
  });
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async (): Promise<void> => {
      ledger.beginStop();
      const teardown = new Teardown();
      // The kubelet first (it would restart what is killed), then every process in the node's cgroups.
      await ledger.stopProcesses(teardown);
      await teardown.attempt("kill the node's processes and remove its cgroups", () =>
        cgroups.destroy(options.kill),
      );
      await teardown.attempt('unmount the run dir', () => unmountBelow(dir));
      await ledger.restoreHost(teardown);
      for (const ns of namespaces) await run(host.tools.ip, ['netns', 'del', ns]).catch(() => undefined);
      for (const link of links) await run(host.tools.ip, ['link', 'del', link]).catch(() => undefined);
      await ledger.stopRegistryAndControlPlane(teardown);
      await ledger.removeRunDir(teardown);
      teardown.finish('the local node');
    })());

  try {
    for (const d of [
      layout.flannelDataDir,
      join(layout.ipamDir, podNetwork.name),
      layout.logs,
      layout.containerdRoot,
      layout.containerdState,
      layout.kubeletRoot,
      layout.staticPods,
      layout.podLogs,
      layout.volumePlugins,
      layout.cniConfDir,
      layout.cniBinDir,
      layout.ipamDir,
    ]) {
      await mkdir(d, { recursive: true });
    }
    log('starting the control plane (node profile: ServiceAccount admission, Node+RBAC authorization)');
    const controlPlane = (ledger.controlPlane = await startControlPlane({
      cacheDir: options.cacheDir,
      env: options.env,
      kill: options.kill,
      log,
      profile: 'node',
      serverEnv: { [runMark]: dir },
      servingIps: [podNetwork.apiGateway.host],
      tmpRoot: dir,
      ...(options.signal ? { signal: options.signal } : {}),
    }));
    await writeNodeCredentials(layout, controlPlane.ca, controlPlane.serverUrl);
    const { repositories, hosts } = registryRepositories(images);
    const registry = (ledger.registry = await startLocalRegistry(repositories, options.listen));
    for (const name of hosts) {
      await mkdir(join(layout.registryHosts, name), { recursive: true });
      await writeFile(join(layout.registryHosts, name, 'hosts.toml'), renderRegistryHosts(registry.address));
    }
    const pause = images.find((i) => i.name === 'pause')!;
    await writeFile(
      layout.containerdConfig,
      renderContainerdConfig({
        layout,
        sandboxImage: pause.reference,
        runc: host.runc,
        snapshotter: host.snapshotter,
      }),
    );
    await installPlugins(binaries, layout.cniBinDir);
    const kind = options.defaultNetwork ?? 'bridge';
    await writeFile(join(layout.cniConfDir, podNetwork.fileName), renderDefaultNetwork(kind, layout, bridge));
    if (kind === 'flannel') await writeFile(layout.flannelSubnetFile, renderFlannelSubnetEnv());
    await writeFile(
      join(layout.ipamDir, podNetwork.name, podNetwork.apiGateway.host),
      "reserved: the local node's api-gateway\n",
    );
    const ip = (...args: string[]): Promise<unknown> => run(host.tools.ip, args);
    // The pods' bridge, with the gateway address the host holds (the bridge plugin finds both in place).
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', `${podNetwork.gateway}/${podNetwork.prefixLength}`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    await ip('link', 'add', macvlanMaster, 'type', 'veth', 'peer', 'name', `mn${id}m1`);
    await ip('link', 'set', macvlanMaster, 'up');
    await ip('link', 'set', `mn${id}m1`, 'up');
    // Children of the uplink: deleted with it, wherever they are (a pod's netns included).
    const vfLinks = await createVfLinks(host.tools.ip, macvlanMaster, `mn${id}v`, options.vfs ?? 4);
    // The API gateway's namespace, plugged into the bridge like a pod.
    await ip('netns', 'add', apiNetns);
    await ip('link', 'add', `mn${id}a0`, 'type', 'veth', 'peer', 'name', `mn${id}a1`, 'netns', apiNetns);
    await ip('link', 'set', `mn${id}a0`, 'master', bridge, 'up');
    await ip(
      '-n',
      apiNetns,
      'addr',
      'add',
      `${podNetwork.apiGateway.host}/${podNetwork.prefixLength}`,
      'dev',
      `mn${id}a1`,
    );
    await ip('-n', apiNetns, 'link', 'set', `mn${id}a1`, 'up');
    await ip('-n', apiNetns, 'link', 'set', 'lo', 'up');

    await ledger.snapshotHost();
    await cgroups.create();
    const ports = await freePorts();
    const deadline = Date.now() + timeoutMs;
    const start = ledger.start.bind(ledger);
    const apiServerPort = new URL(controlPlane.serverUrl).port;
    const apiGateway = await start('api-gateway', binaries.apiGateway, [
      '-netns',
      `/run/netns/${apiNetns}`,
      '-listen',
      `${podNetwork.apiGateway.host}:${podNetwork.apiGateway.port}`,
      '-target',
      `127.0.0.1:${apiServerPort}`,
    ]);
    await waitUntil(
      'the API gateway',
      async () => ({
        ok: await tcpConnects(podNetwork.apiGateway.host, podNetwork.apiGateway.port),
        detail: 'no connection',
      }),
      [apiGateway],
      deadline,
      timeoutMs,
      options.signal,
    );
    log('starting containerd');
    const containerd = await start('containerd', binaries.containerd, ['--config', layout.containerdConfig]);
    await waitUntil(
      'containerd',
      async () => {
        const out = await run(binaries.ctr, ['--address', layout.containerdSocket, 'version'], {
          timeout: 5000,
        });
        return { ok: /Server:/.test(out.stdout), detail: out.stdout };
      },
      [containerd],
      deadline,
      timeoutMs,
      options.signal,
    );
    log('starting kube-controller-manager and kube-scheduler');
    const controllerManager = await start(
      'kube-controller-manager',
      binaries.kubeControllerManager,
      controllerManagerArgs({
        kubeconfig: layout.controllerManagerKubeconfig,
        port: ports.controllerManager,
        dir,
        files: controlPlane.files,
      }),
    );
    const scheduler = await start(
      'kube-scheduler',
      binaries.kubeScheduler,
      schedulerArgs({ kubeconfig: layout.schedulerKubeconfig, port: ports.scheduler, dir }),
    );
    log('starting the kubelet (node "localhost")');
    await writeFile(
      layout.kubeletConfig,
      renderKubeletConfig({ layout, ports, cgroupRoot: cgroups.podsRoot }),
    );
    const kubelet = await start('kubelet', binaries.kubelet, [
      `--config=${layout.kubeletConfig}`,
      `--kubeconfig=${layout.kubeletKubeconfig}`,
      `--root-dir=${layout.kubeletRoot}`,
      `--cert-dir=${layout.pki}`,
      `--hostname-override=${nodeName}`,
    ]);
    const all = [apiGateway, containerd, controllerManager, scheduler, kubelet];
    const kc = controlPlane.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await waitUntil(
      `node ${nodeName} to be Ready`,
      async () => {
        const node = await core.readNode({ name: nodeName });
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        return {
          ok: ready?.status === 'True',
          detail: `${ready?.status ?? 'no condition'}: ${ready?.message ?? ''}`,
        };
      },
      all,
      deadline,
      timeoutMs,
      options.signal,
    );
    await waitForPodPrerequisites(core, all, deadline, timeoutMs, options.signal);
    const vfs: NodeVfs = {
      resourceName: vfResourceName,
      links: vfLinks,
      deviceInfoDir: join(dir, 'devinfo'),
      podResourcesSocket: join(layout.kubeletRoot, 'pod-resources', 'kubelet.sock'),
    };
    if (vfLinks.length > 0) {
      const devicePlugin = await startVfDevicePlugin(
        {
          binary: binaries.vfDevicePlugin,
          devicePluginDir: kubeletDevicePluginDir,
          links: vfLinks,
          nodeName,
          deviceInfoDir: vfs.deviceInfoDir,
        },
        start,
      );
      all.push(devicePlugin);
      await waitUntil(
        `the kubelet to advertise ${vfLinks.length} ${vfResourceName}`,
        async () => {
          const allocatable = (await core.readNode({ name: nodeName })).status?.allocatable ?? {};
          return {
            ok: allocatable[vfResourceName] === String(vfLinks.length),
            detail: `allocatable ${vfResourceName}: ${allocatable[vfResourceName] ?? 'none'}`,
          };
        },
        all,
        deadline,
        timeoutMs,
        options.signal,
      );
    }
    log(
      `node ${nodeName} Ready ${((Date.now() - startedAt) / 1000).toFixed(1)} s after its start (run dir ${dir})`,
    );

    const unexpectedExit = ledger.unexpectedExit();
    const cp = controlPlane;
    const kubectlPath = cp.binaries.kubectl;
    return {
      controlPlane: cp,
      layout,
      binaries,
      kubectlPath,
      helmPath: cp.binaries.helm,
      images,
      host,
      registry: registry.address,
      nodeName,
      podsCgroupRoot: cgroups.podsRoot,
      macvlanMaster,
      bridge,
      vfs,
      apiGateway: podNetwork.apiGateway,
      adminKubeconfigPath: cp.adminKubeconfigPath,
      kubeConfig: () => cp.kubeConfig(),
      kubectl: (args, stdin) => runKubectl(kubectlPath, cp.adminKubeconfigPath, args, stdin),
      unexpectedExit,
      stop: stopAll,
    };
  } catch (err) {
    return ledger.failedStart(err, 'the local node', [], stopAll, options.signal);
  }
}

/** kubectl with the admin kubeconfig: exit code and output (a non-zero exit is not an exception). */
export async function runKubectl(
  kubectl: string,
  kubeconfig: string,
  args: readonly string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdin.end(stdin ?? '');
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve(status ?? -1));
  });
  return { code, stdout, stderr };
}
