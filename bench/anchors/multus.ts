/**
 * Multus CNI's thick plugin (the anchor the benchmarks measure multinet against), built from the
 * source tarball in shared/anchors and run outside a pod against the project's real kube-apiserver,
 * as shared/anchors/README.md says:
 *
 *   const multus = await ensureMultus({ cacheDir, env, log });
 *   const daemon = await startMultusDaemon({ binaries: multus, apiServer, nodeName, confDir, binDir, runDir, env });
 *   const add = await runMultusShim({ shim: daemon.shim, config: daemon.config(), command: 'ADD', ... });
 *   await daemon.stop();
 *
 * The daemon builds its Kubernetes client only in-cluster, so it runs in a private mount namespace
 * (`unshare -m --propagation slave`) with a tmpfs over /run holding the ServiceAccount's token and
 * CA, and the host's /run/netns bound back in (a slave of the host's mount, so pod netns created
 * after the start are visible). Nothing of this reaches the host: the mounts die with the daemon.
 * Callers pass everything environment-derived (PATH, cache dir); nothing here reads process.env.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { access, constants, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1PolicyRule } from '@kubernetes/client-node';
import { runBuildScript, type Env } from '../../dev/binaries.ts';
import { eventually } from '../../dev/eventually.ts';
import { nodeExec } from '../../platform/nodejs/exec.ts';

/** Plugin and tool runs, killed with their process group on a timeout (a benchmark may touch process). */
const tools = nodeExec({ killGroup: (pid, signal) => process.kill(-pid, signal) });
import { findExecutable } from '../../platform/nodejs/which.ts';
import type { ShimOutcome } from '../../dev/netns/local-node.ts';

/** The Multus commit of shared/anchors/multus-cni-<commit>.tar.gz; the binaries are cached by it. */
export const multusCommit = '95a0932';

/** The build script next to this file. */
export const multusBuildScript: string = fileURLToPath(new URL('./build-multus.sh', import.meta.url));

/** The file the daemon generates in the CNI conf dir (multusConfigFile "auto"). */
export const multusConfigFileName = '00-multus.conf';

export interface MultusBinaries {
  readonly shim: string;
  readonly daemon: string;
  /** What its DaemonSet's init container runs to copy multus-shim and passthru onto the node. */
  readonly install: string;
  readonly passthru: string;
}

export function multusBinariesIn(binDir: string): MultusBinaries {
  return {
    shim: join(binDir, `multus-shim-${multusCommit}`),
    daemon: join(binDir, `multus-daemon-${multusCommit}`),
    install: join(binDir, `install_multus-${multusCommit}`),
    passthru: join(binDir, `passthru-${multusCommit}`),
  };
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface EnsureMultusOptions {
  /** Cache root (as dev/build.sh's MULTINET_CACHE); the binaries are in `<cacheDir>/bin`. */
  readonly cacheDir: string;
  /** Environment for the build: PATH (to find go), HOME and the Go caches. */
  readonly env: Env;
  /** The dir holding multus-cni-<commit>.tar.gz (default: the script's <repo>/../shared/anchors). */
  readonly anchorsDir?: string;
  /** Receives the build's progress, line by line. */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** Returns multus-shim and multus-daemon, building them with build-multus.sh when not cached. */
export async function ensureMultus(options: EnsureMultusOptions): Promise<MultusBinaries> {
  const binaries = multusBinariesIn(join(options.cacheDir, 'bin'));
  const all: readonly string[] = [binaries.shim, binaries.daemon, binaries.install, binaries.passthru];
  if ((await Promise.all(all.map(executable))).every(Boolean)) return binaries;
  const env = options.anchorsDir ? { ...options.env, MULTINET_ANCHORS: options.anchorsDir } : options.env;
  await runBuildScript(
    multusBuildScript,
    options.cacheDir,
    env,
    options.log ?? (() => undefined),
    (pid, signal) => process.kill(pid, signal),
    options.signal,
  );
  for (const path of all) {
    if (!(await executable(path)))
      throw new Error(`${multusBuildScript} succeeded but did not produce ${path}`);
  }
  return binaries;
}

/** Multus' RBAC (its ClusterRole): what the ServiceAccount whose token the daemon uses needs. */
export const multusClusterRules: readonly V1PolicyRule[] = [
  {
    apiGroups: ['k8s.cni.cncf.io'],
    resources: ['network-attachment-definitions'],
    verbs: ['get', 'list', 'watch'],
  },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/status'], verbs: ['get', 'update'] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update'] },
];

/** How the daemon reaches the API server: as a pod would, by the service env and a token. */
export interface MultusApiServer {
  /** The API server's URL, https://127.0.0.1:<port>. */
  readonly server: string;
  readonly caPem: string;
  /** A ServiceAccount token with multusClusterRules. */
  readonly token: string;
}

export interface MultusDaemonOptions {
  readonly binaries: MultusBinaries;
  readonly apiServer: MultusApiServer;
  /** MULTUS_NODE_NAME: its pod informer only sees pods with this spec.nodeName. */
  readonly nodeName: string;
  /** The CNI conf dir: the default network's config is read from here, 00-multus.conf written here. */
  readonly confDir: string;
  /** The delegate plugins (Multus' binDir), for example /usr/lib/cni. */
  readonly binDir: string;
  /** Multus' data dir of delegate results (default: in the harness's temp dir, removed by stop). */
  readonly cniDir?: string;
  /** A host dir (not under /run) in which the harness makes its temp dir (sockets, config, secrets). */
  readonly runDir: string;
  /** PATH to find unshare, mount and sh. */
  readonly env: Env;
  /** The daemon config's cniVersion (default 0.3.1). */
  readonly cniVersion?: string;
  /** Multus' logLevel (default "error": logging costs the daemon CPU in benchmarks). */
  readonly logLevel?: 'panic' | 'error' | 'verbose' | 'debug';
  /** How long to wait for the socket to answer and the config to appear (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** A command that execs the rest of its arguments (a benchmark's memory cgroup: bench/memory-cgroup.ts). */
  readonly wrapper?: readonly string[];
}

export interface MultusDaemon {
  /** The multus-daemon process (VmHWM/VmRSS and CPU from /proc/<pid>). */
  readonly pid: number;
  /** The generated 00-multus.conf. */
  readonly configPath: string;
  readonly shim: string;
  /** The daemon's socket dir (daemonSocketDir in the generated config). */
  readonly socketDir: string;
  /** Milliseconds from spawning the daemon to ready (socket answers /readyz and the config exists). */
  readonly startMs: number;
  /** The generated config, parsed (what the runtime passes the shim on stdin). */
  config(): Record<string, unknown>;
  /** The last lines the daemon wrote (stdout and stderr). */
  log(): string;
  /** Kills the daemon (and any delegate it runs), waits for it, and removes what the harness made. Idempotent. */
  stop(): Promise<void>;
  /** The same without waiting for the exit, for a process exit hook. */
  stopSync(): void;
}

/** What this machine lacks to run the daemon: root, unshare/mount (util-linux), sh. */
export function missingDaemonPrerequisites(env: Env, uid: number | undefined): string[] {
  const missing: string[] = [];
  if (uid !== 0) missing.push('root (multus-daemon refuses to run otherwise, and mount namespaces need it)');
  for (const tool of ['unshare', 'mount']) {
    if (!findExecutable(tool, env.PATH)) missing.push(`${tool} (apt-get install util-linux)`);
  }
  if (!findExecutable('sh', env.PATH)) missing.push('sh (apt-get install dash)');
  if (!findExecutable('ip', env.PATH)) missing.push('ip (apt-get install iproute2)');
  return missing;
}

function underRun(path: string): boolean {
  const real = existsSync(path) ? realpathSync(path) : path;
  return real === '/run' || real.startsWith('/run/');
}

function checkDir(field: string, path: string | undefined): void {
  if (path === undefined) return;
  if (!isAbsolute(path))
    throw new Error(`startMultusDaemon: ${field} must be an absolute path, got "${path}"`);
  if (underRun(path))
    throw new Error(
      `startMultusDaemon: ${field} "${path}" is under /run, which the daemon's mount namespace hides behind a tmpfs`,
    );
}

/** Host and port of an https URL, as KUBERNETES_SERVICE_HOST/_PORT. */
function servicePointOf(server: string): { host: string; port: string } {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`startMultusDaemon: apiServer.server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:')
    throw new Error(`startMultusDaemon: apiServer.server "${server}" is not https`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || '443' };
}

/** Whether /run/netns is a shared mount point on the host (as `ip netns add` makes it). */
function netnsMountShared(): boolean {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  return lines.some((line) => {
    const fields = line.split(' ');
    const optional = fields.slice(6, fields.indexOf('-'));
    return fields[4] === '/run/netns' && optional.some((f) => f.startsWith('shared:'));
  });
}

/**
 * Makes /run/netns a shared mount point, as iproute2 does on its first `ip netns add`: only then do
 * pod netns created after the daemon started propagate into its mount namespace.
 */
async function ensureNetnsMountShared(ip: string, env: Env): Promise<void> {
  if (netnsMountShared()) return;
  const name = `multus-probe-${process.pid}-${Date.now()}`;
  const exec = { env: { PATH: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, timeoutMs: 10_000 };
  const add = await tools.run({ ...exec, file: ip, args: ['netns', 'add', name] });
  await tools.run({ ...exec, file: ip, args: ['netns', 'del', name] });
  if (add.code !== 0 || !netnsMountShared())
    throw new Error(`cannot make /run/netns a shared mount point (ip netns add: ${add.stderr.trim()})`);
}

// Runs in the new mount namespace: keep the host's /run/netns, hide /run behind a tmpfs that holds
// the ServiceAccount files, put /run/netns back, and become the daemon.
const namespaceScript = `set -e
stash=$1 secrets=$2
shift 2
mount --rbind /run/netns "$stash"
mount -t tmpfs -o mode=0755,size=4m multus-run /run
mkdir -p /run/netns /run/secrets/kubernetes.io/serviceaccount
mount --move "$stash" /run/netns
cp "$secrets/token" "$secrets/ca.crt" /run/secrets/kubernetes.io/serviceaccount/
exec "$@"
`;

const maxLogChars = 64 * 1024;

function probeReady(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/readyz', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Starts multus-daemon as the anchors README says and waits until it is ready. */
export async function startMultusDaemon(options: MultusDaemonOptions): Promise<MultusDaemon> {
  const missing = missingDaemonPrerequisites(options.env, process.getuid?.());
  if (missing.length > 0) throw new Error(`multus-daemon cannot run here; missing: ${missing.join('; ')}`);
  checkDir('confDir', options.confDir);
  checkDir('binDir', options.binDir);
  checkDir('cniDir', options.cniDir);
  checkDir('runDir', options.runDir);
  if (!options.nodeName) throw new Error('startMultusDaemon: nodeName is empty');
  const { host, port } = servicePointOf(options.apiServer.server);
  const configPath = join(options.confDir, multusConfigFileName);
  if (existsSync(configPath))
    throw new Error(
      `startMultusDaemon: ${configPath} already exists (another Multus on this conf dir?); remove it or use another confDir`,
    );
  for (const path of [options.binaries.daemon, options.binaries.shim]) {
    if (!(await executable(path)))
      throw new Error(`startMultusDaemon: ${path} is not an executable (ensureMultus builds it)`);
  }
  await ensureNetnsMountShared(findExecutable('ip', options.env.PATH)!, options.env);

  const dir = await mkdtemp(join(options.runDir, 'multus-daemon-'));
  let child: ChildProcess | undefined;
  let output = '';
  let stopped: Promise<void> | undefined;
  const running = (): boolean =>
    child?.pid !== undefined && child.exitCode === null && child.signalCode === null;
  const kill = (): void => {
    if (!running()) return;
    try {
      process.kill(-child!.pid!, 'SIGKILL'); // its process group: the delegates it runs, too
    } catch {
      child!.kill('SIGKILL');
    }
  };
  // The mounts live only in the daemon's namespace: the host sees dir's subdirs empty, so removing
  // dir never reaches /run/netns.
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (running()) {
        const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
        kill();
        await exited;
      }
      await rm(configPath, { force: true });
      await rm(dir, { recursive: true, force: true });
    })());
  const stopSync = (): void => {
    kill();
    rmSync(configPath, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const socketDir = join(dir, 'socket');
    const secrets = join(dir, 'secrets');
    const stash = join(dir, 'netns');
    const cniDir = options.cniDir ?? join(dir, 'cni');
    await mkdir(secrets, { mode: 0o700 });
    await mkdir(stash);
    await writeFile(join(secrets, 'token'), options.apiServer.token, { mode: 0o600 });
    await writeFile(join(secrets, 'ca.crt'), options.apiServer.caPem, { mode: 0o600 });
    const daemonConfig = join(dir, 'daemon-config.json');
    await writeFile(
      daemonConfig,
      JSON.stringify({
        cniVersion: options.cniVersion ?? '0.3.1',
        logLevel: options.logLevel ?? 'error',
        logToStderr: true,
        logFile: join(dir, 'multus.log'),
        cniConfigDir: options.confDir,
        multusAutoconfigDir: options.confDir,
        multusConfigFile: 'auto',
        socketDir,
        daemonSocketDir: socketDir,
        confDir: options.confDir,
        cniDir,
        binDir: options.binDir,
      }),
    );
    const started = performance.now();
    const [command, ...wrapped] = [...(options.wrapper ?? []), findExecutable('unshare', options.env.PATH)!];
    child = spawn(
      command,
      [
        ...wrapped,
        '-m',
        '--propagation',
        'slave',
        '--',
        findExecutable('sh', options.env.PATH)!,
        '-c',
        namespaceScript,
        'multus-namespace',
        stash,
        secrets,
        options.binaries.daemon,
        '-config',
        daemonConfig,
      ],
      {
        env: {
          PATH: options.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          KUBERNETES_SERVICE_HOST: host,
          KUBERNETES_SERVICE_PORT: port,
          MULTUS_NODE_NAME: options.nodeName,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group, which stop() kills
      },
    );
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-maxLogChars);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exitedEarly = new AbortController();
    child.once('exit', () => exitedEarly.abort());
    const spawnError = new Promise<never>((_, reject) => child!.once('error', reject));
    const socket = join(socketDir, 'multus.sock');
    await Promise.race([
      spawnError,
      eventually(
        'multus-daemon to answer on its socket and write its config',
        async () => existsSync(configPath) && (await probeReady(socket)),
        { timeoutMs: options.readyTimeoutMs ?? 30_000, intervalMs: 10, signal: exitedEarly.signal },
      ),
    ]);
    const startMs = performance.now() - started;
    const pid = child.pid!;
    return {
      pid,
      configPath,
      shim: options.binaries.shim,
      socketDir,
      startMs,
      config: () => JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>,
      log: () => output,
      stop,
      stopSync,
    };
  } catch (err) {
    const code = child ? ` (exit ${String(child.exitCode ?? child.signalCode)})` : '';
    await stop();
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`multus-daemon did not become ready${code}: ${message}\n--- its output ---\n${output}`, {
      cause: err,
    });
  }
}

export interface MultusShimRequest {
  readonly shim: string;
  readonly command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
  /** The network config the runtime passes on stdin: usually the daemon's generated config. */
  readonly config: Record<string, unknown> | string;
  readonly containerId?: string;
  /** The netns path, e.g. /run/netns/<name>. */
  readonly netns?: string;
  readonly ifName?: string;
  /** CNI_ARGS, e.g. IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=.. */
  readonly args?: string;
  /** CNI_PATH (the runtime's plugin dirs). */
  readonly cniPath: string;
  /** PATH of the shim's environment. */
  readonly path?: string;
  readonly timeoutMs?: number;
}

/** The CNI_ARGS a runtime passes for a pod sandbox. */
export function podCniArgs(pod: {
  namespace: string;
  name: string;
  uid: string;
  containerId: string;
}): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId};K8S_POD_UID=${pod.uid}`;
}

/** Runs one CNI command through multus-shim as a runtime does: the config on stdin, CNI_* in the env. */
export async function runMultusShim(req: MultusShimRequest): Promise<ShimOutcome> {
  const env: Record<string, string> = {
    PATH: req.path ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: req.command,
    CNI_PATH: req.cniPath,
  };
  if (req.containerId !== undefined) env.CNI_CONTAINERID = req.containerId;
  if (req.netns !== undefined) env.CNI_NETNS = req.netns;
  if (req.ifName !== undefined) env.CNI_IFNAME = req.ifName;
  if (req.args !== undefined) env.CNI_ARGS = req.args;
  const out = await tools.run({
    file: req.shim,
    env,
    stdin: typeof req.config === 'string' ? req.config : JSON.stringify(req.config),
    timeoutMs: req.timeoutMs ?? 60_000,
  });
  let json: Record<string, unknown> | undefined;
  try {
    json = out.stdout.trim() ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { code: out.code, stdout: out.stdout, stderr: out.stderr, json };
}
