/**
 * The running webhook, put together from its parts: informers on NADs and NodeNetworkStates feeding
 * the catalog and the node report, the validators, the certificate source, the HTTPS server (and an
 * optional plain-HTTP probe port), and optionally the ValidatingWebhookConfiguration itself. The entry
 * point (cli/webhook.ts) and the cluster tests start it the same way.
 */
import type { Server } from 'node:http';
import { http } from '../platform/nodejs/http.ts';
import type { Server as NetServer } from 'node:net';
import type {
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { nadInformer, nodeStateInformer } from '../platform/kube/informers.ts';
import type { KubeAccess } from '../platform/kube/kubeconfig.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { systemClock } from '../platform/nodejs/clock.ts';
import { nodeFileSystem } from '../platform/nodejs/fs.ts';
import { closeServer } from '../platform/nodejs/listen.ts';
import { createProbeHandler, type ProbeChecks } from '../platform/nodejs/probe-server.ts';
import { watchDirectory } from '../platform/nodejs/watch.ts';
import { createWebhookApp } from './app.ts';
import type { CertSource } from './certs/cert-source.ts';
import { FileCerts } from './certs/file-certs.ts';
import { SelfManagedCerts } from './certs/self-managed.ts';
import { inspectCertificate, type ServingCertificate } from './certs/serving-cert.ts';
import { ReloadingHttpsServer } from './https-server.ts';
import {
  applyWebhookConfiguration,
  fieldManager,
  kubeCaBundleTarget,
  kubeNadFetcher,
  kubeSecretStore,
  webhookConfigurationInformer,
} from './kube-ports.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';
import { NadCatalog } from './nad-catalog.ts';
import { NadMissResolver } from './nad-miss-resolver.ts';
import { validateNadReview } from './nad.validator.ts';
import { NodeStateIndex } from './node-report.ts';
import { mutatePodReview, type PodMutationContext } from './pod.mutator.ts';
import {
  validatePodReview,
  type PodPolicy,
  type PodValidationContext,
  type PodVerdict,
} from './pod.validator.ts';
import { defaultMaxBodyBytes, type ReviewContext } from './review-adapter.ts';
import { httpsUrl, servingNames, type ServingNames } from './serving-names.ts';
import {
  renderMutatingWebhookConfiguration,
  renderWebhookConfiguration,
  type WebhookConfigValues,
  type WebhookTarget,
} from './webhook-configuration.ts';

export type CertSettings =
  | {
      readonly mode: 'self-managed';
      readonly secretNamespace: string;
      readonly secretName: string;
      readonly caValidityDays?: number;
      readonly certValidityDays?: number;
      readonly checkIntervalMs?: number;
      readonly caRolloverDelayMs?: number;
    }
  | {
      readonly mode: 'files';
      readonly certFile: string;
      readonly keyFile: string;
      readonly caFile?: string | undefined;
    };

export interface WebhookSettings {
  readonly listen: { readonly host: string; readonly port: number };
  /** A plain-HTTP port for /healthz, /readyz and /metrics (kubelet probes, Prometheus). */
  readonly probeListen?: { readonly host: string; readonly port: number } | undefined;
  readonly policy: PodPolicy;
  /** Nodes whose agent has not reported for longer are not counted (lib/node-state.ts isEligible). */
  readonly staleAfterMs?: number;
  readonly certs: CertSettings;
  /** The configuration's values; `target` undefined means the URL of the listening address. */
  readonly configuration: Omit<WebhookConfigValues, 'target' | 'caBundlePem'> & {
    readonly target?: WebhookTarget | undefined;
  };
  /** Apply the ValidatingWebhookConfiguration at start (else only its caBundle is kept current). */
  readonly register: boolean;
  /**
   * The resource injector (a MutatingWebhookConfiguration of the same name): device networks' resources
   * added to pods' requests; downwardApi: their labels and annotations mounted at /etc/podnetinfo.
   */
  readonly injectResources?: { readonly downwardApi: boolean } | undefined;
  readonly maxBodyBytes?: number;
  /** How long in-flight requests may finish on stop. Default 5 s. */
  readonly shutdownGraceMs?: number;
}

export interface WebhookDeps {
  /** The API server and credentials (a loaded kubeconfig or the in-cluster ServiceAccount). */
  readonly kubeConfig: KubeAccess;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Listens on host:port and returns the port: the entry point's decision (platform/nodejs/listen.ts listenTcp). */
  readonly listen: (server: NetServer, host: string, port: number) => Promise<number>;
  /** Aborts a start that is still waiting for its first certificate. */
  readonly signal?: AbortSignal;
}

export interface RunningWebhook {
  /** The base URL the webhooks are called at (paths are appended per resource). */
  readonly url: string;
  readonly port: number;
  readonly probePort: number | undefined;
  readonly metrics: WebhookMetrics;
  readonly catalog: NadCatalog;
  readonly certs: CertSource;
  /** The configuration as rendered (with the caBundle at start). */
  readonly configuration: V1ValidatingWebhookConfiguration;
  /** The resource injector's configuration, when it is on. */
  readonly mutatingConfiguration: V1MutatingWebhookConfiguration | undefined;
  ready(): boolean;
  /** Self-managed mode: issue and load a new serving certificate now. */
  rotateCertificate(): Promise<ServingCertificate>;
  stop(): Promise<void>;
}

/** The pod validator, plus one direct read of NADs missing from the cache before "not found" is final. */
export function podReviewer(
  context: PodValidationContext,
  resolver: NadMissResolver | undefined,
  onMissRead?: () => void,
): (request: Parameters<typeof validatePodReview>[0], review?: ReviewContext) => Promise<PodVerdict> {
  return withMissReads((request) => validatePodReview(request, context), resolver, onMissRead);
}

/** The resource injector, with the same one direct read of NADs missing from the cache. */
export function podInjector(
  context: PodMutationContext,
  resolver: NadMissResolver | undefined,
  onMissRead?: () => void,
): (request: Parameters<typeof mutatePodReview>[0], review?: ReviewContext) => Promise<PodVerdict> {
  // A mutation is always allowed: it is the unresolved NADs, not a denial, that call for a read.
  return withMissReads((request) => mutatePodReview(request, context), resolver, onMissRead, true);
}

function withMissReads(
  review: (request: Parameters<typeof validatePodReview>[0]) => PodVerdict,
  resolver: NadMissResolver | undefined,
  onMissRead: (() => void) | undefined,
  evenIfAllowed = false,
): (request: Parameters<typeof validatePodReview>[0], context?: ReviewContext) => Promise<PodVerdict> {
  return async (request, context) => {
    const verdict = review(request);
    if ((verdict.allowed && !evenIfAllowed) || !verdict.unresolved || !resolver) return verdict;
    onMissRead?.();
    return (await resolver.resolve(verdict.unresolved, context?.signal)) ? review(request) : verdict;
  };
}

function targetNames(settings: WebhookSettings): ServingNames {
  if (settings.configuration.target) return servingNames(settings.configuration.target);
  const { host } = settings.listen;
  if (host === '0.0.0.0' || host === '::') {
    throw new Error(`listening on ${host} needs a --url or --service-name for the API server to call`);
  }
  return servingNames({ url: httpsUrl(host, settings.listen.port) });
}

export async function startWebhook(settings: WebhookSettings, deps: WebhookDeps): Promise<RunningWebhook> {
  const { log } = deps;
  const client = new KubeRestClient(deps.kubeConfig, { fieldManager, userAgent: 'multinet-webhook' });
  const metrics = createWebhookMetrics(deps.registry);
  const names = targetNames(settings);

  const nads = nadInformer(client, log);
  const nodeStates = nodeStateInformer(client, log);
  const catalog = new NadCatalog(nads.cache);
  const nodes = new NodeStateIndex(
    () => nodeStates.cache.list(),
    settings.staleAfterMs !== undefined ? { staleAfterMs: settings.staleAfterMs } : {},
  );
  nads.on('add', (o) => catalog.evaluate(o));
  nads.on('update', (o) => catalog.evaluate(o));
  nads.on('delete', (o) => catalog.forget(o));
  for (const event of ['add', 'update', 'delete'] as const) nodeStates.on(event, () => nodes.invalidate());
  const resolver = new NadMissResolver(
    catalog,
    kubeNadFetcher(client),
    log.child({ component: 'nad-miss-resolver' }),
  );
  const podContext: PodValidationContext = { nads: catalog, nodes, policy: settings.policy };
  const inject = settings.injectResources;
  const validators = {
    nads: (request: Parameters<typeof validateNadReview>[0]) =>
      validateNadReview(request, { nads: catalog, nodes }),
    pods: podReviewer(podContext, resolver, () => metrics.cacheMissReads.inc()),
    injectPods: inject
      ? podInjector(
          { nads: catalog, policy: settings.policy, downwardApi: inject.downwardApi },
          resolver,
          () => metrics.cacheMissReads.inc(),
        )
      : undefined,
  };
  for (const informer of [nads, nodeStates]) {
    informer
      .start()
      .catch((err: unknown) => log.error('informer failed to start', { error: errorMessage(err) }));
  }

  const configName = settings.configuration.name;
  const bundleTarget = kubeCaBundleTarget(
    client,
    configName,
    inject ? ['validating', 'mutating'] : ['validating'],
  );
  let selfManaged: SelfManagedCerts | undefined;
  let certs: CertSource;
  if (settings.certs.mode === 'self-managed') {
    const { secretNamespace, secretName, mode: _mode, ...validity } = settings.certs;
    selfManaged = new SelfManagedCerts(
      { commonName: names.dnsNames[0] ?? names.ipAddresses[0] ?? 'multinet-webhook', ...names, ...validity },
      {
        store: kubeSecretStore(client, secretNamespace, secretName),
        target: bundleTarget,
        clock: systemClock,
        log: log.child({ component: 'certificates' }),
      },
    );
    certs = selfManaged;
  } else {
    certs = new FileCerts(
      { certFile: settings.certs.certFile, keyFile: settings.certs.keyFile, caFile: settings.certs.caFile },
      {
        readFile: (p) => nodeFileSystem.readFile(p),
        watchDir: watchDirectory,
        log: log.child({ component: 'certificates' }),
      },
    );
  }
  const stopInformers = async (): Promise<void> => {
    await Promise.all([nads.stop(), nodeStates.stop()]);
    client.close();
  };
  let first: ServingCertificate;
  const abortStart = (): void => certs.stop();
  deps.signal?.addEventListener('abort', abortStart, { once: true });
  try {
    first = await certs.start();
  } catch (err) {
    certs.stop();
    await stopInformers();
    throw err;
  } finally {
    deps.signal?.removeEventListener('abort', abortStart);
  }

  const recordCert = (cert: ServingCertificate): void => {
    metrics.certificateLoads.inc();
    metrics.certificateExpiry.set(inspectCertificate(cert.certPem).notAfter.getTime() / 1000);
  };
  recordCert(first);
  const probes: ProbeChecks = {
    ready: {
      'nad-cache': () => nads.synced,
      'node-state-cache': () => nodeStates.synced,
      certificate: () => certs.current() !== undefined,
    },
    registry: metrics.registry,
  };
  const app = createWebhookApp({
    validators,
    log: log.child({ component: 'admission' }),
    metrics,
    probes,
    maxBodyBytes: settings.maxBodyBytes ?? defaultMaxBodyBytes,
  });
  const syncFileBundle = async (bundle: string): Promise<void> => {
    try {
      await bundleTarget.sync(bundle);
    } catch (err) {
      log.warn('could not update the caBundle of the ValidatingWebhookConfiguration', {
        error: errorMessage(err),
      });
    }
  };

  const https = new ReloadingHttpsServer(app, first);
  certs.onChange((cert) => {
    try {
      https.load(cert);
      recordCert(cert);
    } catch (err) {
      log.error('could not load the new serving certificate; still serving the previous one', {
        error: errorMessage(err),
      });
    }
    if (settings.certs.mode === 'files' && cert.caBundlePem) void syncFileBundle(cert.caBundlePem);
  });
  let port: number;
  try {
    port = await deps.listen(https.server, settings.listen.host, settings.listen.port);
  } catch (err) {
    certs.stop();
    await stopInformers();
    throw err;
  }
  const target = settings.configuration.target ?? { url: httpsUrl(settings.listen.host, port) };
  const url =
    'url' in target
      ? target.url
      : `https://${target.service.name}.${target.service.namespace}.svc:${target.service.port}`;
  const values = { ...settings.configuration, target, caBundlePem: certs.current()?.caBundlePem };
  const configuration = renderWebhookConfiguration(values);
  const mutatingConfiguration = inject ? renderMutatingWebhookConfiguration(values) : undefined;
  let probeServer: Server | undefined;
  let probePort: number | undefined;
  const configInformers: Array<ReturnType<typeof webhookConfigurationInformer>> = [];
  const stop = async (): Promise<void> => {
    certs.stop();
    await Promise.all(configInformers.map((i) => i.stop()));
    await stopInformers();
    if (probeServer) {
      probeServer.closeAllConnections();
      await closeServer(probeServer);
    }
    await https.close(settings.shutdownGraceMs ?? 5000);
  };
  try {
    if (settings.register) {
      await applyWebhookConfiguration(client, configuration);
      log.info('ValidatingWebhookConfiguration applied', { name: configName, url });
      if (mutatingConfiguration) {
        await applyWebhookConfiguration(client, mutatingConfiguration);
        log.info('MutatingWebhookConfiguration applied (resource injection)', { name: configName, url });
      }
    } else if (settings.certs.mode === 'files' && first.caBundlePem) {
      await syncFileBundle(first.caBundlePem);
    }
    if (selfManaged) {
      const managed = selfManaged;
      const check = (object: V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration): void => {
        const bundle = managed.current()?.caBundlePem;
        const expected = bundle ? Buffer.from(bundle).toString('base64') : undefined;
        if (expected && (object.webhooks ?? []).some((w) => w.clientConfig.caBundle !== expected)) {
          managed
            .resyncBundle()
            .catch((err: unknown) => log.warn('caBundle resync failed', { error: errorMessage(err) }));
        }
      };
      for (const kind of inject ? (['validating', 'mutating'] as const) : (['validating'] as const)) {
        const informer = webhookConfigurationInformer(client, configName, log, kind);
        configInformers.push(informer);
        informer.on('add', check);
        informer.on('update', check);
        informer
          .start()
          .catch((err: unknown) => log.error('informer failed to start', { error: errorMessage(err) }));
      }
    }
    if (settings.probeListen) {
      probeServer = http.createServer(createProbeHandler(probes));
      probePort = await deps.listen(probeServer, settings.probeListen.host, settings.probeListen.port);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log.info('multinet webhook serving', {
    url,
    listen: `${settings.listen.host}:${port}`,
    certMode: settings.certs.mode,
  });
  return {
    url,
    port,
    probePort,
    metrics,
    catalog,
    certs,
    configuration,
    mutatingConfiguration,
    ready: () => Object.values(probes.ready).every((check) => check()),
    rotateCertificate: () => {
      if (!selfManaged)
        return Promise.reject(new Error('certificates come from files; replace the files to rotate'));
      return selfManaged.rotate();
    },
    stop,
  };
}
