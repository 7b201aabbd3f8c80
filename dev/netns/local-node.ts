/**
 * A local "node" on this machine, for the playground and for tests that act as the container runtime:
 * real network namespaces (`ip netns add`) as pod sandboxes, a veth pair as macvlan master, a bridge
 * default network with host-local IPAM in 198.51.100.0/24, Debian's CNI plugins in /usr/lib/cni, and a
 * real `multinet agent` process (standalone, or against an API server). Everything it creates carries
 * a unique prefix and lives in one temp dir; `destroy()` removes it all (callers also hook
 * LocalNode.destroyAllSync to process exit).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../repo-root.ts';
import { eventuallyWhileRunning } from '../eventually.ts';
import { shimPath, spawnerPath } from '../go-programs.ts';

export { repoRoot };
export const pluginDir = '/usr/lib/cni';
export { shimPath, spawnerPath };

/** What this machine lacks to host a local node (root, iproute2, nsenter, the CNI plugins). */
export function missingNetnsPrerequisites(): string[] {
  const missing: string[] = [];
  if (userInfo().uid !== 0) missing.push('root (network namespaces and links need it)');
  if (spawnSync('ip', ['-V']).status !== 0) missing.push('iproute2 (apt-get install iproute2)');
  if (spawnSync('nsenter', ['--version']).status !== 0) missing.push('nsenter (apt-get install util-linux)');
  for (const plugin of ['bridge', 'macvlan', 'host-local', 'ptp', 'host-device', 'tuning', 'static']) {
    if (!existsSync(join(pluginDir, plugin)))
      missing.push(`${pluginDir}/${plugin} (apt-get install containernetworking-plugins)`);
  }
  return missing;
}

/** Fails loudly, saying what to install, when the machine cannot host a local node. */
export function requireNetnsPrerequisites(): void {
  const missing = missingNetnsPrerequisites();
  if (missing.length > 0)
    throw new Error(`network namespaces cannot be used here; missing: ${missing.join('; ')}`);
}

export interface ShimOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: Record<string, unknown> | undefined;
}

export interface IpAddressInfo {
  readonly ifname: string;
  readonly mtu: number;
  readonly addresses: string[];
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

function ipQuiet(...args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore' });
}

const live = new Set<LocalNode>();

/** Stops a process: SIGTERM (graceful) or SIGKILL (a crash); its exit code (null when killed). */
function stopProcess(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

/** How the lab runs an agent: its command line before `agent`, and whether it takes this checkout's spawner. */
export interface AgentProgram {
  readonly command: readonly string[];
  readonly spawner: boolean;
}

/** bin/multinet of this checkout (the TypeScript source), with this checkout's plugin spawner. */
export const thisCheckoutsAgent: AgentProgram = {
  command: [join(repoRoot, 'bin', 'multinet')],
  spawner: true,
};

export class LocalNode {
  /** Removes every local node still alive (for a process exit hook). */
  static destroyAllSync(): void {
    for (const node of live) node.destroySync();
  }

  readonly prefix: string;
  readonly dir: string;
  readonly confDir: string;
  readonly nadDir: string;
  readonly podDir: string;
  readonly stateDir: string;
  readonly ipamDir: string;
  readonly binDir: string;
  readonly socket: string;
  /** The macvlan master on the host (one end of a veth pair). */
  readonly master: string;
  readonly bridge: string;
  private readonly links: string[] = [];
  private readonly namespaces: string[] = [];
  private readonly mounts: string[] = [];
  private agent: ChildProcess | undefined;
  private agentLog = '';
  private podCount = 0;

  constructor(name: string) {
    const suffix = Math.random().toString(36).slice(2, 6);
    this.prefix = `mn${name.slice(0, 3)}${suffix}`; // at most 9 bytes; link names add at most 6
    this.dir = mkdtempSync(join(tmpdir(), `multinet-${name}-`));
    this.confDir = join(this.dir, 'net.d');
    this.nadDir = join(this.dir, 'nads');
    this.podDir = join(this.dir, 'pods');
    this.stateDir = join(this.dir, 'state');
    this.ipamDir = join(this.dir, 'ipam');
    this.binDir = join(this.dir, 'bin');
    this.socket = join(this.dir, 'run', 'agent.sock');
    for (const d of [this.confDir, this.nadDir, this.podDir, this.binDir]) mkdirSync(d, { recursive: true });
    this.master = `${this.prefix}m0`;
    this.bridge = `${this.prefix}br`;
    live.add(this);
    this.addVethPair(this.master, `${this.prefix}m1`);
    writeFileSync(
      join(this.confDir, '10-podnet.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'podnet',
        plugins: [
          {
            type: 'bridge',
            bridge: this.bridge,
            isGateway: true,
            ipam: { type: 'host-local', subnet: '198.51.100.0/24', dataDir: this.ipamDir },
          },
        ],
      }),
    );
    this.links.push(this.bridge);
  }

  addVethPair(a: string, b: string): void {
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    this.links.push(a);
    ip('link', 'set', a, 'up');
    ip('link', 'set', b, 'up');
  }

  /** The seed's macvlan-conf, pointed at the lab's master and 192.0.2.0/24. */
  seedMacvlanNad(name = 'macvlan-conf'): Record<string, unknown> {
    return {
      cniVersion: '0.3.0',
      type: 'macvlan',
      master: this.master,
      mode: 'bridge',
      ipam: {
        type: 'host-local',
        subnet: '192.0.2.0/24',
        rangeStart: '192.0.2.200',
        rangeEnd: '192.0.2.216',
        routes: [{ dst: '0.0.0.0/0' }],
        gateway: '192.0.2.1',
        dataDir: this.ipamDir,
      },
      name,
    };
  }

  writeNad(name: string, config: object | string, namespace = 'default'): void {
    const text = typeof config === 'string' ? config : JSON.stringify(config);
    writeFileSync(
      join(this.nadDir, `${namespace}-${name}.yaml`),
      `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n  config: '${text.replace(/'/g, "''")}'\n`,
    );
  }

  /** Creates a network namespace for a pod and writes its manifest (with the networks annotation). */
  newPod(networks: string | undefined, name = `pod${++this.podCount}`): Pod {
    const netns = `${this.prefix}-${name}`;
    ip('netns', 'add', netns);
    this.namespaces.push(netns);
    const annotations =
      networks === undefined
        ? ''
        : `  annotations:\n    k8s.v1.cni.cncf.io/networks: '${networks.replace(/'/g, "''")}'\n`;
    writeFileSync(
      join(this.podDir, `${name}.yaml`),
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: default\n  uid: uid-${name}\n${annotations}`,
    );
    return new Pod(this, name, netns, `ctr${name}${this.prefix}`);
  }

  /** The node name the agent uses in Kubernetes mode. */
  get nodeName(): string {
    return `node-${this.prefix}`;
  }

  /**
   * Starts the agent: standalone (NADs and pods from the lab's dirs), or against an API server.
   * `program` runs multinet (default bin/multinet, the TypeScript source; benchmarks pass the built image
   * code, which runs under flags such as --jitless that type stripping cannot; the version-skew test an
   * older release's, which has no plugin spawner).
   */
  async startAgent(
    extraArgs: readonly string[] = [],
    kubeconfig?: string,
    program: AgentProgram = thisCheckoutsAgent,
  ): Promise<void> {
    if (this.agent) throw new Error('agent already running');
    rmSync(this.socket, { force: true });
    // Ready once it listens (the socket of an earlier run was removed above).
    this.agent = await this.spawnAgent(extraArgs, kubeconfig, program, () => existsSync(this.socket));
  }

  /**
   * Starts a second agent on the same paths while the running one goes on, as a DaemonSet rolled with
   * maxSurge does; it becomes the lab's agent once it has taken the socket over. Returns the first one,
   * to be stopped by the caller (its exit code, or null when killed).
   */
  async startSuccessor(extraArgs: readonly string[] = []): Promise<{
    readonly pid: number | undefined;
    stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null>;
  }> {
    const previous = this.agent;
    if (!previous) throw new Error('no agent running to succeed');
    const before = statSync(this.socket).ino;
    const inode = (): number | undefined => statSync(this.socket, { throwIfNoEntry: false })?.ino;
    this.agent = await this.spawnAgent(extraArgs, undefined, thisCheckoutsAgent, () => {
      const now = inode();
      return now !== undefined && now !== before;
    });
    return { pid: previous.pid, stop: (signal) => stopProcess(previous, signal) };
  }

  private async spawnAgent(
    extraArgs: readonly string[],
    kubeconfig: string | undefined,
    { command, spawner }: AgentProgram,
    listening: () => boolean,
  ): Promise<ChildProcess> {
    this.agentLog = '';
    const source = kubeconfig
      ? [
          '--kubeconfig',
          kubeconfig,
          '--node-name',
          this.nodeName,
          '--probe-listen',
          '127.0.0.1:0',
          '--heartbeat',
          '5',
        ]
      : ['--standalone', '--nad-dir', this.nadDir, '--pod-dir', this.podDir];
    const child = spawn(
      command[0]!,
      [
        ...command.slice(1),
        'agent',
        ...source,
        '--cni-conf-dir',
        this.confDir,
        '--cni-bin-dir',
        `${this.binDir}:${pluginDir}`,
        '--state-dir',
        this.stateDir,
        '--socket',
        this.socket,
        '--log-format',
        'text',
        '--log-level',
        'debug',
        ...(spawner ? ['--spawner', spawnerPath()] : []),
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (chunk: Buffer) => (this.agentLog += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.agentLog += chunk.toString()));
    await eventuallyWhileRunning(child, 'the agent to listen', listening, {
      timeoutMs: 20_000,
      intervalMs: 50,
      detail: () => this.agentLog,
    }).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    return child;
  }

  /** Stops the agent: SIGTERM (graceful) or SIGKILL (a crash). */
  async stopAgent(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<number | null> {
    const child = this.agent;
    if (!child) return null;
    this.agent = undefined;
    return stopProcess(child, signal);
  }

  /** Mounts a tmpfs of `size` (mount's -o size=, e.g. 64k) on dir; unmounted by unmount() or destroy(). */
  mountTmpfs(dir: string, size: string): void {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, `${this.prefix}-tmpfs`, dir]);
    this.mounts.push(dir);
  }

  unmount(dir: string): void {
    execFileSync('umount', [dir]);
    this.mounts.splice(this.mounts.indexOf(dir), 1);
  }

  get log(): string {
    return this.agentLog;
  }

  /** The running agent's process id. */
  get agentPid(): number | undefined {
    return this.agent?.pid;
  }

  /** The default network (10-podnet.conflist's bridge) as a runtime gives it to a plugin: with name and cniVersion. */
  defaultNetwork(): Record<string, unknown> {
    const conf = JSON.parse(readFileSync(join(this.confDir, '10-podnet.conflist'), 'utf8')) as {
      cniVersion: string;
      name: string;
      plugins: Array<Record<string, unknown>>;
    };
    return { ...conf.plugins[0], cniVersion: conf.cniVersion, name: conf.name };
  }

  /** The generated 00-multinet.conflist, parsed. */
  generatedConfig(): { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> } {
    return JSON.parse(readFileSync(join(this.confDir, '00-multinet.conflist'), 'utf8')) as ReturnType<
      LocalNode['generatedConfig']
    >;
  }

  /** Addresses host-local holds for a network (file names that are IPs). */
  leases(network: string): string[] {
    const dir = join(this.ipamDir, network);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.'));
  }

  /**
   * Runs the shim as a runtime would: the generated config's plugin (with name and cniVersion) on stdin.
   * `shim`: another build of it (a previous release's, for version skew), default this checkout's.
   */
  runShim(
    command: string,
    env: Record<string, string>,
    stdinOverride?: Record<string, unknown>,
    shim: string = shimPath(),
  ): ShimOutcome {
    const run = spawnSync(shim, [], {
      input: this.shimStdin(stdinOverride),
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: pluginDir, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    let json: Record<string, unknown> | undefined;
    try {
      json = run.stdout.trim() ? (JSON.parse(run.stdout) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { code: run.status, stdout: run.stdout, stderr: run.stderr, json };
  }

  /** What a runtime writes to the shim's stdin: the generated config's plugin, with name and cniVersion. */
  shimStdin(stdinOverride?: Record<string, unknown>): string {
    const conf = this.generatedConfig();
    const plugin: Record<string, unknown> = {
      ...conf.plugins[0],
      name: conf.name,
      cniVersion: conf.cniVersion,
    };
    delete plugin.capabilities;
    return JSON.stringify({ ...plugin, ...stdinOverride });
  }

  /** Writes an executable fake plugin into the lab's bin dir. */
  writePlugin(name: string, script: string): void {
    writeFileSync(join(this.binDir, name), script, { mode: 0o755 });
  }

  async destroy(): Promise<void> {
    await this.stopAgent('SIGKILL');
    this.destroySync();
  }

  destroySync(): void {
    this.agent?.kill('SIGKILL');
    for (const dir of this.mounts.splice(0).reverse()) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
    for (const netns of this.namespaces.splice(0)) ipQuiet('netns', 'del', netns);
    for (const link of this.links.splice(0)) ipQuiet('link', 'del', link);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

export class Pod {
  readonly lab: LocalNode;
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;

  constructor(lab: LocalNode, name: string, netns: string, containerId: string) {
    this.lab = lab;
    this.name = name;
    this.netns = netns;
    this.containerId = containerId;
  }

  get netnsPath(): string {
    return `/run/netns/${this.netns}`;
  }

  env(): Record<string, string> {
    return {
      CNI_CONTAINERID: this.containerId,
      CNI_NETNS: this.netnsPath,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${this.name};K8S_POD_INFRA_CONTAINER_ID=${this.containerId};K8S_POD_UID=uid-${this.name}`,
    };
  }

  cni(command: 'ADD' | 'DEL' | 'CHECK', stdinOverride?: Record<string, unknown>): ShimOutcome {
    return this.lab.runShim(command, this.env(), stdinOverride);
  }

  /** Interfaces in the pod's namespace other than lo, with their IPv4/IPv6 addresses (no link-local). */
  interfaces(): IpAddressInfo[] {
    const parsed = JSON.parse(ip('-j', '-n', this.netns, 'addr')) as Array<{
      ifname: string;
      mtu: number;
      addr_info: Array<{ local: string; prefixlen: number; scope: string }>;
    }>;
    return parsed
      .filter((i) => i.ifname !== 'lo')
      .map((i) => ({
        ifname: i.ifname,
        mtu: i.mtu,
        addresses: i.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
      }));
  }

  routes(): string {
    return ip('-n', this.netns, 'route', 'show');
  }

  /** The network-status the standalone source wrote for this pod. */
  networkStatus(): Array<Record<string, unknown>> | undefined {
    const file = join(this.lab.stateDir, 'network-status', `default_${this.name}.json`);
    return existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, unknown>>)
      : undefined;
  }
}
