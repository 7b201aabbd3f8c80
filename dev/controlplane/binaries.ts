/**
 * Where the control-plane binaries are (kube-apiserver, etcd, kubectl, helm), and building them with
 * build.sh when some are missing. The caller passes in everything environment-derived.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ControlPlaneBinaries {
  readonly kubeApiServer: string;
  readonly etcd: string;
  readonly kubectl: string;
  readonly helm: string;
}

/** The build script next to this file. */
export const buildScript: string = fileURLToPath(new URL('../build.sh', import.meta.url));

/** The cache root build.sh uses: MULTINET_CACHE, else $XDG_CACHE_HOME/multinet, else ~/.cache/multinet. */
export { defaultCacheDir } from '../../platform/nodejs/cache-dir.ts';

export function binariesIn(binDir: string): ControlPlaneBinaries {
  return {
    kubeApiServer: join(binDir, 'kube-apiserver'),
    etcd: join(binDir, 'etcd'),
    kubectl: join(binDir, 'kubectl'),
    helm: join(binDir, 'helm'),
  };
}

async function missing(binaries: ControlPlaneBinaries): Promise<string[]> {
  const absent: string[] = [];
  for (const path of [binaries.kubeApiServer, binaries.etcd, binaries.kubectl, binaries.helm]) {
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
}

/** Runs build.sh, streaming its output to `log`; rejects with the output's tail when it fails. */
export async function runBuildScript(
  script: string,
  cacheDir: string,
  env: Env,
  log: (line: string) => void,
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
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const tail: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      log(line);
      tail.push(line);
      if (tail.length > 30) tail.shift();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status, killedBy) => resolve(killedBy ?? status ?? -1));
  }).finally(() => signal?.removeEventListener('abort', onAbort));
  if (partial) {
    log(partial);
    tail.push(partial);
  }
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

/** Returns the binaries, building missing ones first (cold: about 11 minutes on 2 cores). */
export async function ensureBinaries(options: EnsureBinariesOptions): Promise<ControlPlaneBinaries> {
  if (options.binDir !== undefined) {
    const binaries = binariesIn(options.binDir);
    const absent = await missing(binaries);
    if (absent.length > 0) throw new Error(`control-plane binaries not found: ${absent.join(', ')}`);
    return binaries;
  }
  const binaries = binariesIn(join(options.cacheDir, 'bin'));
  const absent = await missing(binaries);
  if (absent.length === 0) return binaries;
  const script = options.script ?? buildScript;
  if (options.build === false) {
    throw new Error(
      `control-plane binaries not found: ${absent.join(', ')}; build them with: bash ${script}`,
    );
  }
  options.log(`control-plane binaries missing (${absent.join(', ')}); building them with ${script}`);
  await runBuildScript(script, options.cacheDir, options.env, options.log, options.signal);
  const still = await missing(binaries);
  if (still.length > 0) throw new Error(`${script} succeeded but did not produce: ${still.join(', ')}`);
  return binaries;
}
