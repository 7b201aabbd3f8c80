/**
 * `multinet webhook`: the validating admission webhook's entry. Parses flags (one table for parsing,
 * defaults and --help), starts the webhook and runs until SIGINT/SIGTERM; `multinet webhook register`
 * applies (or prints, or deletes) the ValidatingWebhookConfiguration and exits.
 */
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { errorMessage } from '../lib/errors.ts';
import { loadKubeConfig } from '../platform/kube/kubeconfig.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { createLogger, type LogLevel } from '../platform/log.ts';
import {
  commaList,
  integerInRange,
  listenAddress,
  logFlags,
  networkRefs,
  staleAfterSeconds,
} from './flag-values.ts';
import { defaultStaleAfterSeconds } from '../lib/node-state.ts';
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
import { defaultPodPolicy, type PodPolicy } from '../webhooks/pod.validator.ts';
import { httpsUrl, servingNames } from '../webhooks/serving-names.ts';
import {
  renderMutatingWebhookConfiguration,
  renderWebhookConfiguration,
  webhookDefaults,
  type FailurePolicy,
  type WebhookConfigValues,
  type WebhookTarget,
} from '../webhooks/webhook-configuration.ts';
import { startWebhook, type CertSettings, type WebhookSettings } from '../webhooks/webhook.ts';
import type { CommandContext } from './io.ts';
import { ExitCode, UsageError } from './io.ts';
import { parseOptions } from './options.ts';

const d = webhookDefaults;

export const webhookUsage = `Usage:
  multinet webhook [flags]             serve the validating admission webhook until SIGINT/SIGTERM
  multinet webhook register [flags]    apply the ValidatingWebhookConfiguration and exit
                                       (--print: print it as YAML instead; --delete: delete it)

Validates NetworkAttachmentDefinitions (CREATE, UPDATE) and the network annotations of pods (CREATE,
and UPDATE when they change) against the NADs in an informer cache; answers AdmissionReview v1 over
HTTPS (TLS 1.2+) at ${'/validate/network-attachment-definitions'} and /validate/pods, and serves
/healthz, /readyz and /metrics on the same port.

Cluster:
  --kubeconfig FILE             kubeconfig to use (default: $KUBECONFIG, else the in-cluster ServiceAccount)
  --namespace NS                multinet's own namespace: never validated; default for the Secret and
                                Service namespaces (default: $POD_NAMESPACE, else ${d.namespace})

Serving:
  --listen ADDR:PORT            HTTPS address (default: ${d.listen}; 0.0.0.0:8443 in a cluster; port 0 = any)
  --probe-listen ADDR:PORT      also serve /healthz, /readyz, /metrics over plain HTTP here (default: off)

Certificates:
  --cert-mode MODE              self-managed (default): a CA and serving certificate in a Secret, renewed
                                when a third of their validity is left, caBundle patched, hot reloaded;
                                files: --tls-cert-file/--tls-key-file (cert-manager), reloaded on change
  --secret-namespace NS         namespace of the Secret (default: --namespace)
  --secret-name NAME            name of the Secret (default: ${d.secretName})
  --tls-cert-file FILE          files mode: the serving certificate (PEM)
  --tls-key-file FILE           files mode: its private key (PEM)
  --ca-file FILE                files mode: the CA bundle to write into the configuration's caBundle
                                (leave out when cert-manager's cainjector sets it)

ValidatingWebhookConfiguration:
  --webhook-config-name NAME    its name (default: ${d.configName}); its caBundle is kept current
  --url URL                     base URL the API server calls (e.g. https://127.0.0.1:8443); default:
                                the --listen address
  --service-name NAME           or a Service in front of the webhook...
  --service-namespace NS        ...in this namespace (default: --namespace)
  --service-port PORT           ...on this port (default: ${d.servicePort})
  --failure-policy POLICY       Fail (default: reject when the webhook is unreachable) or Ignore
  --timeout-seconds N           how long the API server waits for an answer, 1-30 (default: ${d.timeoutSeconds})
  --register                    serve: apply the configuration at start (register does only that)
  --print                       register: print the configuration as YAML, touch nothing
  --delete                      register: delete the configuration (and the injector's)

Resource injection (network-resources-injector's job), opt-in:
  --inject-resources            also serve /mutate/pods and keep a MutatingWebhookConfiguration of the same
                                name: each network of a pod whose NAD has a resourceName adds one of that
                                resource to the requests and limits of the pod's first container
  --inject-downward-api         with --inject-resources: also mount the pod's labels and annotations (its
                                network-status) in every container at /etc/podnetinfo

Policy (as the node agents are configured):
  --namespace-isolation         pods may only select NADs in their own namespace or a global one
  --global-namespaces LIST      namespaces whose NADs every pod may select (with --namespace-isolation)
  --default-networks LIST       NADs every pod gets after its default network (ns/name,...): they take
                                the first generated interface names
  --system-namespaces LIST      pods here do not get --default-networks (default: kube-system)
  --stale-after SECONDS         a node whose agent has not reported for longer is not counted (as the
                                controller's; default: ${defaultStaleAfterSeconds})

Logging:
  --log-level LEVEL             error, warn, info or debug (default: info)
  --log-format FORMAT           json or text (default: json)

Objects labelled ${d.optOutLabel}: "false" (or in a namespace so labelled) are not validated.`;

type Env = Readonly<Record<string, string | undefined>>;

export interface WebhookFlags {
  readonly action: 'serve' | 'register' | 'print' | 'delete';
  /** serve: apply the configuration at start. */
  readonly register: boolean;
  readonly kubeconfig: string | undefined;
  readonly listen: { host: string; port: number };
  readonly probeListen: { host: string; port: number } | undefined;
  readonly staleAfterSeconds: number;
  readonly certs: CertSettings;
  readonly configName: string;
  readonly target: WebhookTarget | undefined;
  readonly failurePolicy: FailurePolicy;
  readonly timeoutSeconds: number;
  readonly namespace: string;
  readonly policy: PodPolicy;
  /** The resource injector, when on. */
  readonly injectResources: { readonly downwardApi: boolean } | undefined;
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'text';
}

export function parseWebhookFlags(args: readonly string[], env: Env): WebhookFlags {
  const s = { type: 'string' } as const;
  const b = { type: 'boolean' } as const;
  const { values, positionals } = parseOptions(args, {
    kubeconfig: s,
    namespace: s,
    listen: s,
    'probe-listen': s,
    'cert-mode': s,
    'secret-namespace': s,
    'secret-name': s,
    'tls-cert-file': s,
    'tls-key-file': s,
    'ca-file': s,
    'webhook-config-name': s,
    url: s,
    'service-name': s,
    'service-namespace': s,
    'service-port': s,
    'failure-policy': s,
    'timeout-seconds': s,
    register: b,
    print: b,
    delete: b,
    'inject-resources': b,
    'inject-downward-api': b,
    'namespace-isolation': b,
    'global-namespaces': s,
    'default-networks': s,
    'system-namespaces': s,
    'stale-after': s,
    'log-level': s,
    'log-format': s,
  });
  const [sub, extra] = positionals;
  if (extra !== undefined || (sub !== undefined && sub !== 'register')) {
    throw new UsageError(`unexpected argument ${JSON.stringify(extra ?? sub)}`);
  }
  if (sub !== 'register' && (values.print || values.delete))
    throw new UsageError('--print and --delete go with "register"');
  if (values.print && values.delete) throw new UsageError('give --print or --delete, not both');
  const action =
    sub !== 'register' ? 'serve' : values.print ? 'print' : values.delete ? 'delete' : 'register';

  const namespace = values.namespace ?? env.POD_NAMESPACE ?? d.namespace;
  const mode = values['cert-mode'] ?? 'self-managed';
  let certs: CertSettings;
  if (mode === 'self-managed') {
    if (values['tls-cert-file'] || values['tls-key-file']) {
      throw new UsageError('--tls-cert-file/--tls-key-file need --cert-mode files');
    }
    certs = {
      mode,
      secretNamespace: values['secret-namespace'] ?? namespace,
      secretName: values['secret-name'] ?? d.secretName,
    };
  } else if (mode === 'files') {
    const certFile = values['tls-cert-file'];
    const keyFile = values['tls-key-file'];
    if (action === 'serve' && (!certFile || !keyFile)) {
      throw new UsageError('--cert-mode files needs --tls-cert-file and --tls-key-file');
    }
    certs = { mode, certFile: certFile ?? '', keyFile: keyFile ?? '', caFile: values['ca-file'] };
  } else {
    throw new UsageError(`--cert-mode must be self-managed or files (got ${JSON.stringify(mode)})`);
  }

  if (values.url && values['service-name']) throw new UsageError('give --url or --service-name, not both');
  let target: WebhookTarget | undefined;
  if (values.url) {
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new UsageError(`--url ${JSON.stringify(values.url)} is not a URL`);
    }
    if (url.protocol !== 'https:') throw new UsageError('--url must be an https:// URL');
    target = { url: values.url };
  } else if (values['service-name']) {
    target = {
      service: {
        name: values['service-name'],
        namespace: values['service-namespace'] ?? namespace,
        port: integerInRange('service-port', values['service-port'], d.servicePort, 1, 65535),
      },
    };
  }
  const failurePolicy = values['failure-policy'] ?? d.failurePolicy;
  if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore')
    throw new UsageError('--failure-policy must be Fail or Ignore');
  const { logLevel, logFormat } = logFlags(values);
  const defaultNetworks = networkRefs('default-networks', values['default-networks']);
  if (values['inject-downward-api'] && !values['inject-resources'])
    throw new UsageError('--inject-downward-api goes with --inject-resources');
  return {
    action,
    register: values.register === true,
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    listen: listenAddress('listen', values.listen ?? d.listen),
    probeListen: values['probe-listen'] ? listenAddress('probe-listen', values['probe-listen']) : undefined,
    certs,
    configName: values['webhook-config-name'] ?? d.configName,
    target,
    failurePolicy,
    timeoutSeconds: integerInRange('timeout-seconds', values['timeout-seconds'], d.timeoutSeconds, 1, 30),
    namespace,
    policy: {
      ...defaultPodPolicy,
      namespaceIsolation: values['namespace-isolation'] === true,
      globalNamespaces: commaList(values['global-namespaces']),
      defaultNetworks,
      systemNamespaces:
        values['system-namespaces'] !== undefined
          ? commaList(values['system-namespaces'])
          : defaultPodPolicy.systemNamespaces,
    },
    staleAfterSeconds: staleAfterSeconds(values['stale-after']),
    injectResources: values['inject-resources']
      ? { downwardApi: values['inject-downward-api'] === true }
      : undefined,
    logLevel,
    logFormat,
  };
}

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
