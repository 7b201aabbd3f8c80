/**
 * The webhook's command-line flags: one table (webhookFlagTable) from which the parse spec, the values
 * and `multinet webhook --help` are made; parseWebhookFlags then applies the rules that involve several
 * flags (the action, the certificate mode, the target) or the environment.
 */
import { logFlags, podPolicyFlags, staleAfterFlags } from './common-flags.ts';
import { booleanFlag, flagHelp, inSection, parseFlags, stringFlag } from './flag-table.ts';
import { integerInRange, listenAddress, type ListenAddress } from './flag-values.ts';
import type { LogLevel } from '../platform/log.ts';
import { defaultPodPolicy, type PodPolicy } from '../webhooks/pod.validator.ts';
import {
  webhookDefaults as d,
  type FailurePolicy,
  type WebhookTarget,
} from '../webhooks/webhook-configuration.ts';
import type { CertSettings } from '../webhooks/webhook.ts';
import { UsageError } from './io.ts';

function baseUrl(flag: string, given: string | undefined): string | undefined {
  if (given === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`--${flag} ${JSON.stringify(given)} is not a URL`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`--${flag} must be an https:// URL`);
  return given;
}

/** The --help sections, in order. */
export const webhookFlagSections = [
  'Cluster',
  'Serving',
  'Certificates',
  'ValidatingWebhookConfiguration',
  "Resource injection (network-resources-injector's job), opt-in",
  'Policy (as the node agents are configured)',
  'Logging',
] as const;
const [cluster, serving, certificates, configuration, injection, policy, logging] = webhookFlagSections;

/** Every flag of `multinet webhook`, in --help order. */
export const webhookFlagTable = {
  kubeconfig: stringFlag({
    name: 'kubeconfig',
    section: cluster,
    arg: 'FILE',
    help: 'kubeconfig to use',
    shownDefault: '$KUBECONFIG, else the in-cluster ServiceAccount',
  }),
  namespace: stringFlag({
    name: 'namespace',
    section: cluster,
    arg: 'NS',
    help: "multinet's own namespace: never validated; default for the Secret and Service namespaces",
    shownDefault: `$POD_NAMESPACE, else ${d.namespace}`,
  }),

  listen: stringFlag({
    name: 'listen',
    section: serving,
    arg: 'ADDR:PORT',
    help: 'HTTPS address',
    default: d.listen,
    shownDefault: `${d.listen}; 0.0.0.0:8443 in a cluster; port 0 = any`,
    read: (flag, given, fallback) => listenAddress(flag, given ?? fallback),
  }),
  probeListen: stringFlag({
    name: 'probe-listen',
    section: serving,
    arg: 'ADDR:PORT',
    help: 'also serve /healthz, /readyz, /metrics over plain HTTP here',
    shownDefault: 'off',
    read: (flag, given) => (given ? listenAddress(flag, given) : undefined),
  }),

  certMode: stringFlag({
    name: 'cert-mode',
    section: certificates,
    arg: 'MODE',
    help: 'self-managed: a CA and serving certificate in a Secret, renewed when a third of their validity is left, caBundle patched, hot reloaded; files: --tls-cert-file/--tls-key-file (cert-manager), reloaded on change',
    default: 'self-managed',
    read: (flag, given, fallback) => {
      const mode = given ?? fallback;
      if (mode !== 'self-managed' && mode !== 'files')
        throw new UsageError(`--${flag} must be self-managed or files (got ${JSON.stringify(mode)})`);
      return mode;
    },
  }),
  secretNamespace: stringFlag({
    name: 'secret-namespace',
    section: certificates,
    arg: 'NS',
    help: 'namespace of the Secret',
    shownDefault: '--namespace',
  }),
  secretName: stringFlag({
    name: 'secret-name',
    section: certificates,
    arg: 'NAME',
    help: 'name of the Secret',
    default: d.secretName,
  }),
  tlsCertFile: stringFlag({
    name: 'tls-cert-file',
    section: certificates,
    arg: 'FILE',
    help: 'files mode: the serving certificate (PEM)',
  }),
  tlsKeyFile: stringFlag({
    name: 'tls-key-file',
    section: certificates,
    arg: 'FILE',
    help: 'files mode: its private key (PEM)',
  }),
  caFile: stringFlag({
    name: 'ca-file',
    section: certificates,
    arg: 'FILE',
    help: "files mode: the CA bundle to write into the configuration's caBundle (leave out when cert-manager's cainjector sets it)",
  }),

  configName: stringFlag({
    name: 'webhook-config-name',
    section: configuration,
    arg: 'NAME',
    help: 'its name; its caBundle is kept current',
    default: d.configName,
  }),
  url: stringFlag({
    name: 'url',
    section: configuration,
    arg: 'URL',
    help: 'base URL the API server calls, e.g. https://127.0.0.1:8443',
    shownDefault: 'the --listen address',
    read: baseUrl,
  }),
  serviceName: stringFlag({
    name: 'service-name',
    section: configuration,
    arg: 'NAME',
    help: 'or a Service in front of the webhook...',
  }),
  serviceNamespace: stringFlag({
    name: 'service-namespace',
    section: configuration,
    arg: 'NS',
    help: '...in this namespace',
    shownDefault: '--namespace',
  }),
  servicePort: stringFlag({
    name: 'service-port',
    section: configuration,
    arg: 'PORT',
    help: '...on this port',
    default: d.servicePort,
    read: (flag, given, fallback) => integerInRange(flag, given, fallback, 1, 65535),
  }),
  failurePolicy: stringFlag({
    name: 'failure-policy',
    section: configuration,
    arg: 'POLICY',
    help: 'Fail (reject when the webhook is unreachable) or Ignore',
    default: d.failurePolicy,
    read: (flag, given, fallback): FailurePolicy => {
      const policy = given ?? fallback;
      if (policy !== 'Fail' && policy !== 'Ignore') throw new UsageError(`--${flag} must be Fail or Ignore`);
      return policy;
    },
  }),
  timeoutSeconds: stringFlag({
    name: 'timeout-seconds',
    section: configuration,
    arg: 'N',
    help: 'how long the API server waits for an answer, 1-30',
    default: d.timeoutSeconds,
    read: (flag, given, fallback) => integerInRange(flag, given, fallback, 1, 30),
  }),
  register: booleanFlag({
    name: 'register',
    section: configuration,
    help: 'serve: apply the configuration at start (register does only that)',
  }),
  print: booleanFlag({
    name: 'print',
    section: configuration,
    help: 'register: print the configuration as YAML, touch nothing',
  }),
  delete: booleanFlag({
    name: 'delete',
    section: configuration,
    help: "register: delete the configuration (and the injector's)",
  }),

  injectResources: booleanFlag({
    name: 'inject-resources',
    section: injection,
    help: "also serve /mutate/pods and keep a MutatingWebhookConfiguration of the same name: each network of a pod whose NAD has a resourceName adds one of that resource to the requests and limits of the pod's first container",
  }),
  injectDownwardApi: booleanFlag({
    name: 'inject-downward-api',
    section: injection,
    help: "with --inject-resources: also mount the pod's labels and annotations (its network-status) in every container at /etc/podnetinfo",
  }),

  ...inSection(policy, { ...podPolicyFlags, ...staleAfterFlags }),
  ...inSection(logging, logFlags),
};

export const webhookUsage = `Usage:
  multinet webhook [flags]             serve the validating admission webhook until SIGINT/SIGTERM
  multinet webhook register [flags]    apply the ValidatingWebhookConfiguration and exit
                                       (--print: print it as YAML instead; --delete: delete it)

Validates NetworkAttachmentDefinitions (CREATE, UPDATE) and the network annotations of pods (CREATE,
and UPDATE when they change) against the NADs in an informer cache; answers AdmissionReview v1 over
HTTPS (TLS 1.2+) at /validate/network-attachment-definitions and /validate/pods, and serves
/healthz, /readyz and /metrics on the same port.

${flagHelp(webhookFlagTable, webhookFlagSections)}

Objects labelled ${d.optOutLabel}: "false" (or in a namespace so labelled) are not validated.`;

type Env = Readonly<Record<string, string | undefined>>;

export interface WebhookFlags {
  readonly action: 'serve' | 'register' | 'print' | 'delete';
  /** serve: apply the configuration at start. */
  readonly register: boolean;
  readonly kubeconfig: string | undefined;
  readonly listen: ListenAddress;
  readonly probeListen: ListenAddress | undefined;
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
  const { values: v, positionals } = parseFlags(webhookFlagTable, args);
  const [sub, extra] = positionals;
  if (extra !== undefined || (sub !== undefined && sub !== 'register')) {
    throw new UsageError(`unexpected argument ${JSON.stringify(extra ?? sub)}`);
  }
  if (sub !== 'register' && (v.print || v.delete))
    throw new UsageError('--print and --delete go with "register"');
  if (v.print && v.delete) throw new UsageError('give --print or --delete, not both');
  const action = sub !== 'register' ? 'serve' : v.print ? 'print' : v.delete ? 'delete' : 'register';

  const namespace = v.namespace ?? env.POD_NAMESPACE ?? d.namespace;
  let certs: CertSettings;
  if (v.certMode === 'self-managed') {
    if (v.tlsCertFile || v.tlsKeyFile) {
      throw new UsageError('--tls-cert-file/--tls-key-file need --cert-mode files');
    }
    certs = { mode: v.certMode, secretNamespace: v.secretNamespace ?? namespace, secretName: v.secretName };
  } else {
    if (action === 'serve' && (!v.tlsCertFile || !v.tlsKeyFile)) {
      throw new UsageError('--cert-mode files needs --tls-cert-file and --tls-key-file');
    }
    certs = {
      mode: v.certMode,
      certFile: v.tlsCertFile ?? '',
      keyFile: v.tlsKeyFile ?? '',
      caFile: v.caFile,
    };
  }

  if (v.url && v.serviceName) throw new UsageError('give --url or --service-name, not both');
  const target: WebhookTarget | undefined = v.url
    ? { url: v.url }
    : v.serviceName
      ? { service: { name: v.serviceName, namespace: v.serviceNamespace ?? namespace, port: v.servicePort } }
      : undefined;
  if (v.injectDownwardApi && !v.injectResources)
    throw new UsageError('--inject-downward-api goes with --inject-resources');
  return {
    action,
    register: v.register,
    kubeconfig: v.kubeconfig ?? env.KUBECONFIG,
    listen: v.listen,
    probeListen: v.probeListen,
    certs,
    configName: v.configName,
    target,
    failurePolicy: v.failurePolicy,
    timeoutSeconds: v.timeoutSeconds,
    namespace,
    policy: {
      ...defaultPodPolicy,
      namespaceIsolation: v.namespaceIsolation,
      globalNamespaces: v.globalNamespaces,
      defaultNetworks: v.defaultNetworks,
      systemNamespaces: v.systemNamespaces,
    },
    staleAfterSeconds: v.staleAfterSeconds,
    injectResources: v.injectResources ? { downwardApi: v.injectDownwardApi } : undefined,
    logLevel: v.logLevel,
    logFormat: v.logFormat,
  };
}
