/**
 * One node of the multi-node cluster: a kubelet and its own containerd in the node's network namespace
 * and in a mount namespace of its own, where the node's private dirs (below `root` on the host) are bound
 * over the fixed paths a node uses (/etc/cni/net.d, /opt/cni/bin, /var/lib/kubelet, /run/containerd,
 * /run/netns, /var/lib/multinet, ...). So containerd and the kubelet run with their default paths, and a
 * pod's hostPath is its own node's, as on separate machines; from the host, a node path P is
 * `hostPath(P)`. The node's processes (a holder of the mount namespace, containerd, its shims, the
 * kubelet, the containers) all live in the node's cgroup subtree and are killed with it.
 *
 * `stop()` and `start()` again is a reboot: what is below /run is lost (containerd's state, the pods'
 * network namespaces, the agent's socket), what is below /var and /etc stays.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CertificateAuthority } from '../../platform/pki.ts';
import type { Kill } from '../../lib/ports.ts';
import type { NodeBinaries } from '../binaries.ts';
import { waitUntil } from '../controlplane/readiness.ts';
import { startServerProcess, type ServerProcess } from '../controlplane/server-process.ts';
import { NodeCgroups } from '../node/cgroups.ts';
import {
  bridgePlugin,
  renderConflist,
  renderContainerdConfig,
  renderKubeletConfig,
  renderRegistryHosts,
  writeKubeletCredentials,
  type NodeLayout,
} from '../node/node-config.ts';
import type { NodeHost } from '../node/prerequisites.ts';
import { clusterPodNetwork, underlay, type NodePlan } from './plan.ts';

const run = promisify(execFile);

/** The script that makes a node's mount namespace and holds it. */
export const nodeMountsScript: string = fileURLToPath(new URL('./node-mounts.sh', import.meta.url));

/**
 * The fixed paths that are each node's own (bound from `root` inside the node's mount namespace): what
 * containerd, the kubelet, CNI plugins and multinet's agent keep at fixed places on a node.
 */
export const nodePrivateDirs = [
  '/etc/cni/net.d',
  '/opt/cni/bin',
  '/var/lib/kubelet',
  '/var/lib/containerd',
  '/run/containerd',
  '/var/lib/cni',
  '/run/netns',
  '/var/log/pods',
  '/var/log/containers',
  '/var/lib/multinet',
  '/run/multinet',
] as const;

/** Each node's own machine id (the kubelet's systemUUID falls back to it where there is no DMI). */
export const nodePrivateFiles = ['/etc/machine-id'] as const;

/** A node's long-running processes: the holder of its mount namespace, containerd, the kubelet. */
export type NodeDaemon = 'mounts' | 'containerd' | 'kubelet';

/** What a reboot loses: the node's private dirs below /run. */
const volatileDirs = nodePrivateDirs.filter((d) => d.startsWith('/run/'));

export interface ClusterNodeDeps {
  readonly plan: NodePlan;
  /** The node's dir on the host (its configs, logs, and `root`). */
  readonly dir: string;
  readonly host: NodeHost;
  readonly binaries: NodeBinaries;
  readonly kill: Kill;
  /** PATH of the node's daemons (containerd finds its shim and runc there). */
  readonly pathEnv: string;
  /** The pause image's reference (containerd's pinned sandbox image). */
  readonly sandboxImage: string;
  /** The registry host names the node pulls from the registry relay on the underlay. */
  readonly registryHosts: readonly string[];
  /** Marks the node's processes for a stale run's cleanup. */
  readonly env: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

export class ClusterNode {
  readonly plan: NodePlan;
  readonly name: string;
  readonly address: string;
  readonly dir: string;
  /** The node's private dirs on the host: a node path P is join(root, P). */
  readonly root: string;
  /** Paths as containerd and the kubelet see them (inside the node's mount namespace). */
  readonly layout: NodeLayout;
  readonly cgroups: NodeCgroups;
  private readonly deps: ClusterNodeDeps;
  private holder: ServerProcess | undefined;
  private containerd: ServerProcess | undefined;
  private kubelet: ServerProcess | undefined;
  private holderPid: number | undefined;

  constructor(deps: ClusterNodeDeps) {
    this.deps = deps;
    this.plan = deps.plan;
    this.name = deps.plan.name;
    this.address = deps.plan.address;
    this.dir = deps.dir;
    this.root = join(deps.dir, 'root');
    this.cgroups = new NodeCgroups(deps.host.cgroups, deps.plan.cgroup);
    const dir = deps.dir;
    this.layout = {
      dir,
      pki: join(dir, 'pki'),
      logs: join(dir, 'logs'),
      containerdRoot: '/var/lib/containerd',
      containerdState: '/run/containerd',
      containerdSocket: '/run/containerd/containerd.sock',
      containerdConfig: join(dir, 'containerd.toml'),
      registryHosts: join(dir, 'certs.d'),
      kubeletRoot: '/var/lib/kubelet',
      kubeletConfig: join(dir, 'kubelet.yaml'),
      kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
      controllerManagerKubeconfig: join(dir, 'unused-controller-manager.kubeconfig'),
      schedulerKubeconfig: join(dir, 'unused-scheduler.kubeconfig'),
      staticPods: join(dir, 'manifests'),
      podLogs: '/var/log/pods',
      volumePlugins: join(dir, 'volume-plugins'),
      cniConfDir: '/etc/cni/net.d',
      cniBinDir: '/opt/cni/bin',
      ipamDir: '/var/lib/cni/networks',
      flannelSubnetFile: '/run/flannel/subnet.env',
      flannelDataDir: '/var/lib/cni/flannel',
    };
  }

  /** Where the node's path `path` (/etc/cni/net.d/...) is on the host. */
  hostPath(path: string): string {
    return join(this.root, path);
  }

  /** The node's network namespace file. */
  get netnsPath(): string {
    return `/run/netns/${this.plan.netns}`;
  }

  /** containerd's socket, as the host reaches it. */
  get containerdSocket(): string {
    return this.hostPath(this.layout.containerdSocket);
  }

  /** The processes of the node's daemons (for a test's "is it running"). */
  get running(): boolean {
    return this.kubelet !== undefined && !this.kubelet.hasExited();
  }

  /** The log file of a node component. */
  logFile(name: NodeDaemon): string {
    return join(this.layout.logs, `${name}.log`);
  }

  /**
   * Writes the node's files once: its private dirs, containerd's and the kubelet's configuration and
   * credentials, the CNI plugins in its bin dir, and its default network (a bridge and host-local over
   * its share of the pod network, routes to the rest of it and to the underlay).
   */
  async prepare(ca: CertificateAuthority, apiServerUrl: string): Promise<void> {
    const { layout, deps } = this;
    for (const d of nodePrivateDirs) await mkdir(this.hostPath(d), { recursive: true });
    for (const d of [layout.logs, layout.staticPods, layout.volumePlugins, layout.registryHosts])
      await mkdir(d, { recursive: true });
    const machineId = (await readFile('/etc/machine-id', 'utf8').catch(() => '')).trim();
    const nodeId = `${machineId.slice(0, 24) || '0'.repeat(24)}${deps.plan.index.toString(16).padStart(8, '0')}`;
    for (const f of nodePrivateFiles) {
      await mkdir(dirname(this.hostPath(f)), { recursive: true });
      await writeFile(this.hostPath(f), `${nodeId}\n`);
    }
    const registry = `${underlay.labAddress}:${underlay.registryPort}`;
    for (const name of deps.registryHosts) {
      await mkdir(join(layout.registryHosts, name), { recursive: true });
      await writeFile(join(layout.registryHosts, name, 'hosts.toml'), renderRegistryHosts(registry));
    }
    await writeFile(
      layout.containerdConfig,
      renderContainerdConfig({
        layout,
        sandboxImage: deps.sandboxImage,
        runc: deps.host.runc,
        snapshotter: deps.host.snapshotter,
      }),
    );
    await writeFile(
      layout.kubeletConfig,
      renderKubeletConfig({
        layout,
        ports: { kubelet: 10250, kubeletHealthz: 10248 },
        cgroupRoot: this.cgroups.podsRoot,
        address: deps.plan.address,
      }),
    );
    await writeKubeletCredentials(layout, ca, apiServerUrl, {
      name: deps.plan.name,
      ipAddresses: [deps.plan.address],
    });
    const binDir = this.hostPath(layout.cniBinDir);
    const plugins = (await readdir(deps.binaries.cniPlugins)).map((n) => join(deps.binaries.cniPlugins, n));
    for (const source of plugins) {
      const target = join(binDir, basename(source));
      await link(await realpath(source), target).catch(() => copyFile(source, target));
    }
    await writeFile(
      join(this.hostPath(layout.cniConfDir), clusterPodNetwork.fileName),
      renderConflist(
        bridgePlugin({
          bridge: clusterPodNetwork.bridge,
          subnet: deps.plan.podSubnet,
          gateway: deps.plan.podGateway,
          routes: [clusterPodNetwork.clusterSubnet, underlay.subnet],
        }),
      ),
    );
  }

  private async daemon(name: NodeDaemon, command: string, args: readonly string[]): Promise<ServerProcess> {
    return startServerProcess({
      name: `${this.name} ${name}`,
      command,
      args,
      logFile: this.logFile(name),
      cwd: this.dir,
      env: { PATH: this.deps.pathEnv, HOME: this.dir, ...this.deps.env },
      cgroupProcs: this.cgroups.daemonProcsFiles,
      kill: this.deps.kill,
    });
  }

  /** `nsenter` into the node (its mount and network namespaces), then `command`. */
  private entered(command: string, args: readonly string[]): [string, string[]] {
    if (this.holderPid === undefined) throw new Error(`node ${this.name} is not started`);
    return [
      this.deps.host.tools.nsenter,
      ['--target', String(this.holderPid), '--mount', '--net', '--', command, ...args],
    ];
  }

  /** Starts the node's namespace holder, containerd and the kubelet; resolves once containerd answers. */
  async start(deadline: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const { deps } = this;
    await this.cgroups.create();
    const ready = join(this.dir, 'mounts.ready');
    await rm(ready, { force: true });
    // A file is bound only where the host has it (a bind needs a target).
    const mounts = [...nodePrivateDirs, ...nodePrivateFiles.filter((f) => existsSync(f))];
    this.holder = await this.daemon('mounts', deps.host.tools.nsenter, [
      `--net=${this.netnsPath}`,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      nodeMountsScript,
      ready,
      this.root,
      ...mounts,
    ]);
    const holder = this.holder;
    await waitUntil(
      `node ${this.name}'s mount namespace`,
      async () => {
        const pid = Number((await readFile(ready, 'utf8').catch(() => '')).trim());
        if (pid > 0) this.holderPid = pid;
        return { ok: pid > 0, detail: 'not ready' };
      },
      [holder],
      deadline,
      timeoutMs,
      signal,
    );
    this.containerd = await this.daemon(
      'containerd',
      ...this.entered(deps.binaries.containerd, ['--config', this.layout.containerdConfig]),
    );
    const containerd = this.containerd;
    await waitUntil(
      `node ${this.name}'s containerd`,
      async () => {
        const out = await run(deps.binaries.ctr, ['--address', this.containerdSocket, 'version'], {
          timeout: 5000,
        });
        return { ok: /Server:/.test(out.stdout), detail: out.stdout };
      },
      [holder, containerd],
      deadline,
      timeoutMs,
      signal,
    );
    await this.startKubelet();
  }

  /** Starts the kubelet (again). */
  async startKubelet(): Promise<void> {
    const { layout, deps } = this;
    this.kubelet = await this.daemon(
      'kubelet',
      ...this.entered(deps.binaries.kubelet, [
        `--config=${layout.kubeletConfig}`,
        `--kubeconfig=${layout.kubeletKubeconfig}`,
        `--cert-dir=${layout.pki}`,
        `--hostname-override=${deps.plan.name}`,
        `--node-ip=${deps.plan.address}`,
      ]),
    );
  }

  /** Stops the kubelet only (the node's containers keep running, as when a kubelet crashes). */
  async stopKubelet(): Promise<void> {
    await this.kubelet?.stop(10_000);
  }

  /** The daemons that must stay up while the node runs. */
  get daemons(): ServerProcess[] {
    return [this.holder, this.containerd, this.kubelet].filter((s): s is ServerProcess => s !== undefined);
  }

  /**
   * Stops the whole node: the kubelet, then every process in its cgroups (containerd, shims, containers,
   * the namespace holder, with which go its mounts and the pods' network namespaces). With `reboot`,
   * also what a reboot loses (its /run), so that a start() afterwards is a node coming back up.
   */
  async stop(options: { readonly reboot?: boolean } = {}): Promise<void> {
    await this.kubelet?.stop(10_000);
    await this.cgroups.destroy(this.deps.kill);
    for (const server of this.daemons) await server.stop(1000);
    this.holder = this.containerd = this.kubelet = undefined;
    this.holderPid = undefined;
    if (options.reboot) {
      for (const d of volatileDirs) {
        await rm(this.hostPath(d), { recursive: true, force: true });
        await mkdir(this.hostPath(d), { recursive: true });
      }
    }
  }

  /** Runs a program inside the node (its network and mount namespaces), e.g. `ip a`. */
  async exec(command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    const [file, argv] = this.entered(command, args);
    return run(file, argv, { timeout: 60_000 });
  }
}
