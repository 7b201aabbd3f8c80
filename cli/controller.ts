/**
 * `multinet controller`: the NAD status controller's entry. Parses flags, builds the logger and the
 * Kubernetes configuration (in-cluster unless --kubeconfig), picks the leader-election identity and
 * namespace, runs the controller and stops it gracefully on SIGINT/SIGTERM (the context's signal).
 */
import { randomBytes } from 'node:crypto';
import { listenTcp } from '../platform/nodejs/listen.ts';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { controllerUsage, parseControllerFlags } from './controller-flags.ts';
import type { CommandContext } from './io.ts';
import { ExitCode } from './io.ts';
import { startController } from '../controllers/manager.ts';
import { errorMessage } from '../lib/errors.ts';
import { loadKubeConfig } from '../platform/kube/kubeconfig.ts';
import { createLogger } from '../platform/log.ts';

export { controllerUsage };

const serviceAccountNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function podNamespace(env: CommandContext['env']): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(serviceAccountNamespaceFile, 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

export async function runController(args: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseControllerFlags(args);
  const log = createLogger({
    level: flags.logLevel,
    format: flags.logFormat,
    file: flags.logFile,
    stream: context.logStream,
    defaultMeta: { component: 'multinet-controller' },
  });
  const instance = context.env.POD_NAME ?? context.env.HOSTNAME ?? hostname();
  let running;
  try {
    const kubeConfig = loadKubeConfig({ kubeconfig: flags.kubeconfig, env: context.env });
    running = await startController({
      kubeConfig,
      log,
      workers: flags.workers,
      staleAfterMs: flags.staleAfterSeconds * 1000,
      qps: flags.qps,
      burst: flags.burst,
      namespaces: flags.namespaces,
      nodeSelector: flags.nodeSelector,
      probe: { ...flags.probe, listen: listenTcp },
      instance,
      leaderElection: flags.leaderElect
        ? {
            namespace: flags.leaseNamespace ?? podNamespace(context.env),
            name: flags.leaseName,
            identity: `${instance}_${randomBytes(4).toString('hex')}`,
          }
        : undefined,
    });
  } catch (err) {
    log.error('the controller failed to start', { error: errorMessage(err) });
    return ExitCode.failed;
  }
  log.info('multinet controller started', {
    leaderElect: flags.leaderElect,
    workers: flags.workers,
    staleAfterSeconds: flags.staleAfterSeconds,
  });
  await Promise.race([
    running.done,
    new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      else context.signal.addEventListener('abort', () => resolve(), { once: true });
    }),
  ]);
  const unexpected = !context.signal.aborted;
  await running.stop();
  if (unexpected) {
    log.error('the controller stopped unexpectedly');
    return ExitCode.failed;
  }
  return ExitCode.ok;
}
