/**
 * `multinet webhook`: the validating admission webhook's entry. Parses flags (webhook-flags.ts),
 * starts the webhook and runs until SIGINT/SIGTERM; `multinet webhook register` applies (or prints,
 * or deletes) the ValidatingWebhookConfiguration and exits.
 */
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { errorMessage } from '../lib/errors.ts';
import { loadKubeConfig } from '../platform/kube/kubeconfig.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { createLogger } from '../platform/log.ts';
import { systemClock } from '../platform/nodejs/clock.ts';
import { listenTcp } from '../platform/nodejs/listen.ts';
import { SelfManagedCerts } from '../webhooks/certs/self-managed.ts';
import {
  applyWebhookConfiguration,
  deleteWebhookConfiguration,
  fieldManager,
  kubeSecretStore,
  type WebhookConfiguration,
} from '../webhooks/kube-ports.ts';
import { httpsUrl, servingNames } from '../webhooks/serving-names.ts';
import {
  renderMutatingWebhookConfiguration,
  renderWebhookConfiguration,
  webhookDefaults,
  type WebhookConfigValues,
} from '../webhooks/webhook-configuration.ts';
import { startWebhook, type WebhookSettings } from '../webhooks/webhook.ts';
import type { CommandContext } from './io.ts';
import { ExitCode, UsageError } from './io.ts';
import { parseWebhookFlags, webhookUsage, type WebhookFlags } from './webhook-flags.ts';

const d = webhookDefaults;

export { webhookUsage };

/** The configuration's values from the flags (target and caBundle filled in by the caller). */
function configurationValues(flags: WebhookFlags): Omit<WebhookConfigValues, 'target'> {
  return {
    name: flags.configName,
    failurePolicy: flags.failurePolicy,
    timeoutSeconds: flags.timeoutSeconds,
    excludedNamespaces: [...new Set<string>([...d.alwaysExcludedNamespaces, flags.namespace])],
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function register(flags: WebhookFlags, context: CommandContext): Promise<number> {
  const target =
    flags.target ??
    (flags.listen.port !== 0 && flags.listen.host !== '0.0.0.0'
      ? { url: httpsUrl(flags.listen.host, flags.listen.port) }
      : undefined);
  if (!target && flags.action !== 'delete') throw new UsageError('register needs --url or --service-name');
  const log = createLogger({ level: flags.logLevel, format: flags.logFormat, stream: context.logStream });
  let caBundlePem: string | undefined;
  if (flags.certs.mode === 'files' && flags.certs.caFile)
    caBundlePem = await readFile(flags.certs.caFile, 'utf8');
  const render = (bundle: string | undefined): WebhookConfiguration[] => {
    const values = { ...configurationValues(flags), target: target!, caBundlePem: bundle };
    return [
      renderWebhookConfiguration(values),
      ...(flags.injectResources ? [renderMutatingWebhookConfiguration(values)] : []),
    ];
  };
  if (flags.action === 'print') {
    context.io.stdout(
      render(caBundlePem)
        .map((config) => yaml.dump(config, { noRefs: true, lineWidth: 120 }))
        .join('---\n'),
    );
    return ExitCode.ok;
  }
  const client = new KubeRestClient(loadKubeConfig({ kubeconfig: flags.kubeconfig, env: context.env }), {
    fieldManager,
    userAgent: 'multinet-webhook',
  });
  try {
    if (flags.action === 'delete') {
      for (const kind of ['validating', 'mutating'] as const) {
        const existed = await deleteWebhookConfiguration(client, flags.configName, kind);
        const what =
          kind === 'validating' ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration';
        if (existed || kind === 'validating')
          context.io.stdout(`${existed ? 'deleted' : 'not found'}: ${what} ${flags.configName}\n`);
      }
      return ExitCode.ok;
    }
    if (flags.certs.mode === 'self-managed') {
      // The same Secret the server uses: created here when missing, so the bundle is right from the start.
      const names = servingNames(target!);
      const certs = new SelfManagedCerts(
        { commonName: names.dnsNames[0] ?? names.ipAddresses[0] ?? 'multinet-webhook', ...names },
        {
          store: kubeSecretStore(client, flags.certs.secretNamespace, flags.certs.secretName),
          clock: systemClock,
          log,
        },
      );
      caBundlePem = (await certs.reconcile()).caBundlePem;
    }
    for (const config of render(caBundlePem)) {
      await applyWebhookConfiguration(client, config);
      context.io.stdout(`applied: ${config.kind} ${flags.configName}\n`);
    }
    return ExitCode.ok;
  } finally {
    client.close();
  }
}

export async function runWebhook(args: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseWebhookFlags(args, context.env);
  if (flags.action !== 'serve') return register(flags, context);
  const log = createLogger({
    level: flags.logLevel,
    format: flags.logFormat,
    stream: context.logStream,
    defaultMeta: { component: 'webhook' },
  });
  const settings: WebhookSettings = {
    listen: flags.listen,
    probeListen: flags.probeListen,
    policy: flags.policy,
    staleAfterMs: flags.staleAfterSeconds * 1000,
    certs: flags.certs,
    configuration: { ...configurationValues(flags), target: flags.target },
    register: flags.register,
    injectResources: flags.injectResources,
  };
  let webhook;
  try {
    webhook = await startWebhook(settings, {
      kubeConfig: loadKubeConfig({ kubeconfig: flags.kubeconfig, env: context.env }),
      log,
      signal: context.signal,
      listen: listenTcp,
    });
  } catch (err) {
    log.error('webhook failed to start', { error: errorMessage(err) });
    return ExitCode.failed;
  }
  await aborted(context.signal);
  log.info('stopping: finishing requests in flight');
  await webhook.stop();
  return ExitCode.ok;
}
