/**
 * The webhook's ports on a real API server: the certificate Secret, the ValidatingWebhookConfiguration
 * (caBundle, apply, delete, a watch on it), and single NAD reads after a cache miss, all through the
 * webhook's one client (field manager multinet-webhook).
 * RBAC: secrets get/create/update in multinet's namespace; validatingwebhookconfigurations
 * get/list/watch/update/patch (and create/delete for `register`); NADs and nodenetworkstates
 * get/list/watch.
 */
import type { V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
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

const webhookConfigurations = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';

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

/** Sets the caBundle of every webhook of the named configuration (read, change, replace; retried on conflict). */
export function kubeCaBundleTarget(client: KubeRequester, configName: string): CaBundleTarget {
  const path = `${webhookConfigurations}/${encodeURIComponent(configName)}`;
  return {
    async sync(caBundlePem): Promise<BundleSync> {
      const caBundle = Buffer.from(caBundlePem).toString('base64');
      for (let attempt = 0; ; attempt++) {
        const config = await orUndefined(
          client.request<V1ValidatingWebhookConfiguration>({ method: 'GET', path }),
        );
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
    },
  };
}

/** Creates or updates the configuration (server-side apply, owned by the client's field manager). */
export async function applyWebhookConfiguration(
  client: KubeRequester,
  config: V1ValidatingWebhookConfiguration,
): Promise<void> {
  await client.request({
    method: 'PATCH',
    path: `${webhookConfigurations}/${encodeURIComponent(config.metadata!.name!)}`,
    query: { force: 'true' },
    body: config,
    contentType: contentTypes.apply,
  });
}

/** Deletes the configuration; true when it existed. */
export async function deleteWebhookConfiguration(client: KubeRequester, name: string): Promise<boolean> {
  try {
    await client.request({ method: 'DELETE', path: `${webhookConfigurations}/${encodeURIComponent(name)}` });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Watches the one configuration by name (a Helm upgrade may reset its caBundle). */
export function webhookConfigurationInformer(
  client: KubeClient,
  name: string,
  log: Logger,
): ResilientInformer<V1ValidatingWebhookConfiguration & { metadata: { name: string } }> {
  return new ResilientInformer({
    client,
    path: webhookConfigurations,
    fieldSelector: `metadata.name=${name}`,
    log: log.child({ informer: 'validatingwebhookconfigurations' }),
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
