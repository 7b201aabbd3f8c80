/**
 * The webhook's ports on a real API server: the certificate Secret, the ValidatingWebhookConfiguration
 * and, with the resource injector, the MutatingWebhookConfiguration of the same name (caBundle, apply,
 * delete, a watch on each), and single NAD reads after a cache miss, all through the webhook's one
 * client (field manager multinet-webhook).
 * RBAC: secrets get/create/update in multinet's namespace; validatingwebhookconfigurations (and
 * mutatingwebhookconfigurations) get/list/watch/update/patch (and create/delete for `register`); NADs
 * and nodenetworkstates get/list/watch.
 */
import type {
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { nadGroup, nadPlural, nadVersion } from '../lib/nad.ts';
import { ResilientInformer } from '../platform/kube/informer.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import {
  contentTypes,
  isConflict,
  isNotFound,
  type KubeClient,
  type KubeRequester,
} from '../platform/kube/rest.ts';
import {
  ConflictError,
  type BundleSync,
  type CaBundleTarget,
  type SecretData,
  type SecretStore,
  type StoredSecret,
} from './certs/self-managed.ts';
import type { NadFetcher } from './nad-miss-resolver.ts';

export const fieldManager = 'multinet-webhook';

/** The two kinds of webhook configuration multinet writes, by their REST collection. */
export type ConfigurationKind = 'validating' | 'mutating';

function collectionOf(kind: ConfigurationKind): string {
  return `/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations`;
}

export type WebhookConfiguration = V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration;

async function orConflict<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isConflict(err)) throw new ConflictError((err as Error).message);
    throw err;
  }
}

async function orUndefined<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function decodeData(data: Record<string, string> | undefined): SecretData {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function encodeData(data: SecretData): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
  );
}

interface SecretObject {
  readonly data?: Record<string, string>;
  readonly metadata?: { readonly resourceVersion?: string };
}

export function kubeSecretStore(client: KubeRequester, namespace: string, name: string): SecretStore {
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  const metadata = {
    name,
    namespace,
    labels: { 'app.kubernetes.io/part-of': 'multinet', 'app.kubernetes.io/component': 'webhook' },
  };
  const stored = (secret: SecretObject): StoredSecret => ({
    data: decodeData(secret.data),
    resourceVersion: secret.metadata?.resourceVersion ?? '',
  });
  const body = (data: SecretData, resourceVersion?: string): object => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...metadata, ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
    type: 'kubernetes.io/tls',
    data: encodeData(data),
  });
  return {
    async read() {
      const secret = await orUndefined(client.request<SecretObject>({ method: 'GET', path }));
      return secret && stored(secret);
    },
    async create(data) {
      return stored(
        await orConflict(
          client.request<SecretObject>({ method: 'POST', path: collection, body: body(data) }),
        ),
      );
    },
    async replace(data, resourceVersion) {
      return stored(
        await orConflict(
          client.request<SecretObject>({ method: 'PUT', path, body: body(data, resourceVersion) }),
        ),
      );
    },
  };
}

/** Sets the caBundle of every webhook of one configuration (read, change, replace; retried on conflict). */
async function syncBundle(client: KubeRequester, path: string, caBundle: string): Promise<BundleSync> {
  for (let attempt = 0; ; attempt++) {
    const config = await orUndefined(client.request<WebhookConfiguration>({ method: 'GET', path }));
    if (!config) return 'missing';
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return 'unchanged';
    for (const webhook of webhooks) webhook.clientConfig.caBundle = caBundle;
    try {
      await client.request({ method: 'PUT', path, body: config });
      return 'updated';
    } catch (err) {
      if (!isConflict(err) || attempt >= 4) throw err;
    }
  }
}

/**
 * Sets the caBundle of every webhook of the named configurations: the validating one (its absence is
 * reported), and the mutating one of the same name when `kinds` has it (absent: nothing to do).
 */
export function kubeCaBundleTarget(
  client: KubeRequester,
  configName: string,
  kinds: readonly ConfigurationKind[] = ['validating'],
): CaBundleTarget {
  const pathOf = (kind: ConfigurationKind): string =>
    `${collectionOf(kind)}/${encodeURIComponent(configName)}`;
  return {
    async sync(caBundlePem): Promise<BundleSync> {
      const caBundle = Buffer.from(caBundlePem).toString('base64');
      const validating = await syncBundle(client, pathOf('validating'), caBundle);
      const mutating = kinds.includes('mutating')
        ? await syncBundle(client, pathOf('mutating'), caBundle)
        : 'unchanged';
      if (validating === 'missing') return 'missing';
      return validating === 'updated' || mutating === 'updated' ? 'updated' : 'unchanged';
    },
  };
}

/** Creates or updates a configuration (server-side apply, owned by the client's field manager). */
export async function applyWebhookConfiguration(
  client: KubeRequester,
  config: WebhookConfiguration,
): Promise<void> {
  const kind: ConfigurationKind = config.kind === 'MutatingWebhookConfiguration' ? 'mutating' : 'validating';
  await client.request({
    method: 'PATCH',
    path: `${collectionOf(kind)}/${encodeURIComponent(config.metadata!.name!)}`,
    query: { force: 'true' },
    body: config,
    contentType: contentTypes.apply,
  });
}

/** Deletes the configuration of that name and kind; true when it existed. */
export async function deleteWebhookConfiguration(
  client: KubeRequester,
  name: string,
  kind: ConfigurationKind = 'validating',
): Promise<boolean> {
  try {
    await client.request({ method: 'DELETE', path: `${collectionOf(kind)}/${encodeURIComponent(name)}` });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Watches the one configuration of that kind by name (a Helm upgrade may reset its caBundle). */
export function webhookConfigurationInformer(
  client: KubeClient,
  name: string,
  log: Logger,
  kind: ConfigurationKind = 'validating',
): ResilientInformer<WebhookConfiguration & { metadata: { name: string } }> {
  return new ResilientInformer({
    client,
    path: collectionOf(kind),
    fieldSelector: `metadata.name=${name}`,
    log: log.child({ informer: `${kind}webhookconfigurations` }),
  });
}

/** Reads one NAD from the API server (after an informer cache miss). */
export function kubeNadFetcher(client: KubeRequester): NadFetcher {
  return (namespace, name, signal) =>
    orUndefined(
      client.request<NadObject>({
        method: 'GET',
        path: `/apis/${nadGroup}/${nadVersion}/namespaces/${encodeURIComponent(namespace)}/${nadPlural}/${encodeURIComponent(name)}`,
        signal,
      }),
    );
}
