/**
 * `multinet dev cluster`: the tests' real control plane (etcd + kube-apiserver on 127.0.0.1) in the
 * foreground, for the local playground. Builds the binaries when missing, writes an admin kubeconfig
 * once /readyz is ok, and stops everything on SIGINT/SIGTERM.
 *
 * The harness lives under dev/ and is loaded with a dynamic import, so other commands never load it.
 * `multinet dev node` (dev/cli/dev-node.ts) is its sibling with real kubelet nodes.
 */
import { readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { errorMessage } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../platform/nodejs/fs.ts';
import type { ControlPlane } from '../controlplane/controlplane.ts';
import type { CommandContext } from '../../cli/io.ts';
import { ExitCode, UsageError } from '../../cli/io.ts';
import { devNodeUsage, runDevNode } from './dev-node.ts';
import { parseOptions } from '../../cli/options.ts';

export const devUsage = `Usage:
  multinet dev cluster --kubeconfig-out FILE [--cache-dir DIR] [--no-build]
      Starts etcd and kube-apiserver on free 127.0.0.1 ports (RBAC on, ServiceAccount tokens work),
      writes an admin kubeconfig to FILE once the API server is ready, and runs until Ctrl-C
      (SIGINT) or SIGTERM; then stops both servers, removes their temp dir and FILE.
      Missing binaries are built first with dev/build.sh (Go >= 1.26 needed; about
      11 minutes on 2 cores the first time, cached afterwards).
  --kubeconfig-out FILE   where to write the admin kubeconfig (written atomically, mode 0600)
  --cache-dir DIR         binary cache (default: $MULTINET_CACHE, else ~/.cache/multinet)
  --no-build              fail instead of building missing binaries
${devNodeUsage}`;

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** `multinet dev cluster ARGS`: returns the exit code once the control plane has stopped. */
async function runDevCluster(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    'kubeconfig-out': { type: 'string' },
    'cache-dir': { type: 'string' },
    'no-build': { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const out = values['kubeconfig-out'];
  if (!out) throw new UsageError('--kubeconfig-out FILE is required');
  const kubeconfigPath = resolve(out);
  const { io, env, signal } = context;
  if (!context.process) throw new Error('dev cluster needs the process port of the entry point');
  const proc = context.process;
  const log = (line: string): void => io.stderr(`[dev cluster] ${line}\n`);

  const [{ startControlPlane }, { defaultCacheDir }] = await Promise.all([
    import('../controlplane/controlplane.ts'),
    import('../binaries.ts'),
  ]);
  let controlPlane: ControlPlane;
  try {
    controlPlane = await startControlPlane({
      cacheDir: values['cache-dir'] ?? defaultCacheDir(env, homedir()),
      build: !values['no-build'],
      env,
      log,
      signal,
      kill: (pid, sig) => proc.kill(pid, sig),
    });
  } catch (err) {
    if (signal.aborted) {
      log('interrupted before the control plane was ready; nothing is left running');
      return ExitCode.ok;
    }
    io.stderr(`multinet dev cluster: ${errorMessage(err)}\n`);
    return ExitCode.failed;
  }

  let exitCode: number = ExitCode.ok;
  try {
    await writeFileAtomic(kubeconfigPath, controlPlane.adminKubeconfig, 0o600);
    const kubectl = controlPlane.binaries.kubectl;
    io.stdout(
      [
        `control plane ready: ${controlPlane.serverUrl}`,
        `admin kubeconfig (user in system:masters): ${kubeconfigPath}`,
        '',
        'use it with the cached kubectl:',
        `  export KUBECONFIG=${kubeconfigPath}`,
        `  ${kubectl} version`,
        `  ${kubectl} get --raw /readyz?verbose`,
        `  ${kubectl} api-resources`,
        '',
        `logs: ${controlPlane.apiServerLog}, ${controlPlane.etcdLog}`,
        'press Ctrl-C to stop (stops etcd and kube-apiserver, removes the temp dir and the kubeconfig)',
        '',
      ].join('\n'),
    );
    const outcome = await Promise.race([aborted(signal).then(() => undefined), controlPlane.unexpectedExit]);
    if (outcome !== undefined) {
      io.stderr(`multinet dev cluster: ${outcome}\n`);
      exitCode = ExitCode.failed;
    }
  } catch (err) {
    io.stderr(`multinet dev cluster: ${errorMessage(err)}\n`);
    exitCode = ExitCode.failed;
  } finally {
    log('stopping');
    await controlPlane.stop();
    // Remove the kubeconfig only if it is still the one written here.
    const current = await readFile(kubeconfigPath, 'utf8').catch(() => undefined);
    if (current === controlPlane.adminKubeconfig) await rm(kubeconfigPath, { force: true });
    log('stopped');
  }
  return exitCode;
}

/** `multinet dev SUBCOMMAND ARGS`. */
export function runDev(args: readonly string[], context: CommandContext): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === 'node') return runDevNode(rest, context);
  if (subcommand !== 'cluster') {
    throw new UsageError(
      subcommand === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(subcommand)}`,
    );
  }
  return runDevCluster(rest, context);
}
