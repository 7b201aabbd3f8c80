/**
 * Where the binaries of the control plane (kube-apiserver, etcd, kubectl, helm) and of the local node
 * (kubelet, controller manager, scheduler, containerd, CNI plugins, pause) are, and building them with
 * build.sh when some are missing. The caller passes in everything environment-derived.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kill } from '../lib/ports.ts';
import { OutputLines } from './output-lines.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ControlPlaneBinaries {
  readonly kubeApiServer: string;
  readonly etcd: string;
  readonly kubectl: string;
  readonly helm: string;
}

/** The local node's programs (see build.sh): runc is Debian's, found on PATH by containerd. */
export interface NodeBinaries {
  readonly kubelet: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly containerd: string;
  /** containerd finds its shim on PATH: the bin dir goes first there. */
  readonly containerdShim: string;
  readonly ctr: string;
  /** The CNI reference plugins (a directory: bridge, macvlan, host-local, ...). */
  readonly cniPlugins: string;
  /** Flannel's plugin: built only where its source is at hand (ensureNodeBinaries' `flannel`). */
  readonly flannel: string;
  /** The sandbox image's program. */
  readonly pause: string;
  /** Relays pods' connections to the API server on the host's loopback. */
  readonly apiGateway: string;
  /** whereabouts' CNI plugin, its reconciler, and a dir with its CRDs and RBAC (daemonset-install.yaml). */
  readonly whereabouts: string;
  readonly whereaboutsReconciler: string;
  readonly whereaboutsFiles: string;
  /** The device plugin of the node's stand-in VFs (dev/node/vf-device-plugin). */
  readonly vfDevicePlugin: string;
  /** The CNI plugin that moves a stand-in VF into a pod (type "vf", dev/node/vf-cni). */
  readonly vfCni: string;
}

/** The build.sh part (MULTINET_BUILD_ONLY) that makes each cached binary. */
const parts: Readonly<Record<string, string>> = {
  'kube-apiserver': 'kube',
  kubectl: 'kube',
  etcd: 'etcd',
  helm: 'helm',
  kubelet: 'node',
  'kube-controller-manager': 'node',
  'kube-scheduler': 'node',
  containerd: 'containerd',
  'containerd-shim-runc-v2': 'containerd',
  ctr: 'containerd',
  'cni-plugins': 'cni',
  flannel: 'flannel',
  pause: 'pause',
  'api-gateway': 'gateway',
  whereabouts: 'whereabouts',
  'ip-control-loop': 'whereabouts',
  'whereabouts-files': 'whereabouts',
  'vf-device-plugin': 'vfplugin',
  'vf-cni': 'vfcni',
};

/** The build script next to this file. */
export const buildScript: string = fileURLToPath(new URL('./build.sh', import.meta.url));

/** The cache root build.sh uses: MULTINET_CACHE, else $XDG_CACHE_HOME/multinet, else ~/.cache/multinet. */
export { defaultCacheDir } from '../platform/nodejs/cache-dir.ts';

export function binariesIn(binDir: string): ControlPlaneBinaries {
  return {
    kubeApiServer: join(binDir, 'kube-apiserver'),
    etcd: join(binDir, 'etcd'),
    kubectl: join(binDir, 'kubectl'),
    helm: join(binDir, 'helm'),
  };
}

export function nodeBinariesIn(binDir: string): NodeBinaries {
  return {
    kubelet: join(binDir, 'kubelet'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
    kubeScheduler: join(binDir, 'kube-scheduler'),
    containerd: join(binDir, 'containerd'),
    containerdShim: join(binDir, 'containerd-shim-runc-v2'),
    ctr: join(binDir, 'ctr'),
    cniPlugins: join(binDir, 'cni-plugins'),
    flannel: join(binDir, 'flannel'),
    pause: join(binDir, 'pause'),
    apiGateway: join(binDir, 'api-gateway'),
    whereabouts: join(binDir, 'whereabouts'),
    whereaboutsReconciler: join(binDir, 'ip-control-loop'),
    whereaboutsFiles: join(binDir, 'whereabouts-files'),
    vfDevicePlugin: join(binDir, 'vf-device-plugin'),
    vfCni: join(binDir, 'vf-cni'),
  };
}

async function missing(paths: readonly string[]): Promise<string[]> {
  const absent: string[] = [];
  for (const path of paths) {
    try {
      await access(path, constants.X_OK);
    } catch {
      absent.push(path);
    }
  }
  return absent;
}

export interface EnsureBinariesOptions {
  /** Cache root; binaries are in `<cacheDir>/bin`. */
  readonly cacheDir: string;
  /** Use binaries from this folder instead, and never build. */
  readonly binDir?: string;
  /** Build what is missing with build.sh (default true). */
  readonly build?: boolean;
  /** Environment for build.sh: PATH (to find go), HOME and the Go caches. */
  readonly env: Env;
  /** Receives build.sh's progress, line by line. */
  readonly log: (line: string) => void;
  readonly script?: string;
  /** Aborting stops a running build. */
  readonly signal?: AbortSignal;
  /** The entry point's process.kill: an abort signals the build's whole process group. */
  readonly kill: Kill;
}

/** Runs build.sh, streaming its output to `log`; rejects with the output's tail when it fails. */
export async function runBuildScript(
  script: string,
  cacheDir: string,
  env: Env,
  log: (line: string) => void,
  kill: Kill,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  // Its own process group, so that an abort stops the go commands it runs as well.
  const child = spawn('bash', [script], {
    env: { ...env, MULTINET_CACHE: cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const onAbort = (): void => {
    try {
      if (child.pid !== undefined) kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const output = new OutputLines(log);
  child.stdout.on('data', output.write);
  child.stderr.on('data', output.write);
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status, killedBy) => resolve(killedBy ?? status ?? -1));
  }).finally(() => signal?.removeEventListener('abort', onAbort));
  output.end();
  const tail = output.tail;
  signal?.throwIfAborted();
  if (code !== 0) {
    const goMissing = tail.some((line) => /Go is not installed|too old/.test(line));
    throw new Error(
      `building with ${script} failed (${typeof code === 'string' ? `killed by ${code}` : `exit code ${code}`})` +
        (goMissing
          ? '.\nInstall Go >= 1.26 (https://go.dev/doc/install, or `apt-get install golang-go` where it is recent enough) and run again.'
          : '') +
        `\n--- last lines of its output ---\n${tail.join('\n')}`,
    );
  }
}

/** Builds with build.sh what `paths` (binaries in one bin dir) lack; fails when some are still missing. */
async function ensurePaths(
  paths: readonly string[],
  what: string,
  options: EnsureBinariesOptions,
  binDir: string | undefined,
): Promise<void> {
  const absent = await missing(paths);
  if (absent.length === 0) return;
  if (binDir !== undefined) throw new Error(`${what} not found: ${absent.join(', ')}`);
  const script = options.script ?? buildScript;
  if (options.build === false) {
    throw new Error(`${what} not found: ${absent.join(', ')}; build them with: bash ${script}`);
  }
  const only = [...new Set(absent.map((path) => parts[basename(path)] ?? ''))].filter(Boolean).join(' ');
  options.log(`${what} missing (${absent.join(', ')}); building them with ${script}`);
  await runBuildScript(
    script,
    options.cacheDir,
    { ...options.env, MULTINET_BUILD_ONLY: only },
    options.log,
    options.kill,
    options.signal,
  );
  const still = await missing(paths);
  if (still.length > 0) throw new Error(`${script} succeeded but did not produce: ${still.join(', ')}`);
}

/** Returns the control plane's binaries, building missing ones first (cold: about 11 minutes on 2 cores). */
export async function ensureBinaries(options: EnsureBinariesOptions): Promise<ControlPlaneBinaries> {
  const binaries = binariesIn(options.binDir ?? join(options.cacheDir, 'bin'));
  await ensurePaths(Object.values(binaries), 'control-plane binaries', options, options.binDir);
  return binaries;
}

/** Node binaries that only some runs need: Flannel's plugin (its source is not on the module proxy), whereabouts. */
export type OptionalNodePart = 'flannel' | 'whereabouts';

const optionalPaths: Readonly<Record<OptionalNodePart, ReadonlyArray<keyof NodeBinaries>>> = {
  flannel: ['flannel'],
  whereabouts: ['whereabouts', 'whereaboutsReconciler', 'whereaboutsFiles'],
};

/**
 * Returns the local node's binaries, building missing ones first (cold: about 8 minutes on 2 cores);
 * the optional parts only when asked for.
 */
export async function ensureNodeBinaries(
  options: EnsureBinariesOptions & { readonly also?: readonly OptionalNodePart[] },
): Promise<NodeBinaries> {
  const binaries = nodeBinariesIn(options.binDir ?? join(options.cacheDir, 'bin'));
  const skipped = new Set<string>(
    (Object.keys(optionalPaths) as OptionalNodePart[])
      .filter((part) => !options.also?.includes(part))
      .flatMap((part) => optionalPaths[part]),
  );
  const needed = (Object.keys(binaries) as Array<keyof NodeBinaries>)
    .filter((key) => !skipped.has(key))
    .map((key) => binaries[key]);
  await ensurePaths(needed, 'node binaries', options, options.binDir);
  return binaries;
}
