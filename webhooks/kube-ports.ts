/**
 * The webhook's ports on a real API server: the certificate Secret, the ValidatingWebhookConfiguration
 * (caBundle, apply, delete, a watch on it), and single NAD reads after a cache miss.
 * RBAC: secrets get/create/update in multinet's namespace; validatingwebhookconfigurations
 * get/list/watch/update/patch (and create/delete for `register`); NADs and nodenetworkstates
 * get/list/watch.
 */
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { ResilientInformer } from '../platform/kube/informer.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { nadGroup, nadPlural, nadVersion } from '../lib/nad.ts';
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

function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

async function orConflict<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isStatus(err, 409)) throw new ConflictError(errorText(err));
    throw err;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

export function kubeSecretStore(kc: KubeConfig, namespace: string, name: string): SecretStore {
  const api = kc.makeApiClient(CoreV1Api);
  const metadata = {
    name,
    namespace,
    labels: { 'app.kubernetes.io/part-of': 'multinet', 'app.kubernetes.io/component': 'webhook' },
  };
  const stored = (secret: {
    data?: Record<string, string>;
    metadata?: { resourceVersion?: string };
  }): StoredSecret => ({
    data: decodeData(secret.data),
    resourceVersion: secret.metadata?.resourceVersion ?? '',
  });
  return {
    async read() {
      try {
        return stored(await api.readNamespacedSecret({ namespace, name }));
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    async create(data) {
      return stored(
        await orConflict(
          api.createNamespacedSecret({
            namespace,
            body: { metadata, type: 'kubernetes.io/tls', data: encodeData(data) },
          }),
        ),
      );
    },
    async replace(data, resourceVersion) {
      return stored(
        await orConflict(
          api.replaceNamespacedSecret({
            namespace,
            name,
            body: {
              metadata: { ...metadata, resourceVersion },
              type: 'kubernetes.io/tls',
              data: encodeData(data),
            },
          }),
        ),
      );
    },
  };
}

/** Sets the caBundle of every webhook of the named configuration (read, change, replace; retried on conflict). */
export function kubeCaBundleTarget(kc: KubeConfig, configName: string): CaBundleTarget {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    async sync(caBundlePem): Promise<BundleSync> {
      const caBundle = Buffer.from(caBundlePem).toString('base64');
      for (let attempt = 0; ; attempt++) {
        let config: V1ValidatingWebhookConfiguration;
        try {
          config = await api.readValidatingWebhookConfiguration({ name: configName });
        } catch (err) {
          if (isStatus(err, 404)) return 'missing';
          throw err;
        }
        const webhooks = config.webhooks ?? [];
        if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return 'unchanged';
        for (const webhook of webhooks) webhook.clientConfig.caBundle = caBundle;
        try {
          await api.replaceValidatingWebhookConfiguration({ name: configName, body: config, fieldManager });
          return 'updated';
        } catch (err) {
          if (!isStatus(err, 409) || attempt >= 4) throw err;
        }
      }
    },
  };
}

/** Creates or updates the configuration (server-side apply, owned by the webhook's field manager). */
export async function applyWebhookConfiguration(
  kc: KubeConfig,
  config: V1ValidatingWebhookConfiguration,
): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await objects.patch(config, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
}

/** Deletes the configuration; true when it existed. */
export async function deleteWebhookConfiguration(kc: KubeConfig, name: string): Promise<boolean> {
  try {
    await kc.makeApiClient(AdmissionregistrationV1Api).deleteValidatingWebhookConfiguration({ name });
    return true;
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw err;
  }
}

/** Watches the one configuration by name (a Helm upgrade may reset its caBundle). */
export function webhookConfigurationInformer(
  kc: KubeConfig,
  name: string,
  log: Logger,
): ResilientInformer<V1ValidatingWebhookConfiguration & { metadata: { name: string } }> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const fieldSelector = `metadata.name=${name}`;
  return new ResilientInformer({
    kubeConfig: kc,
    path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
    fieldSelector,
    list: async () => {
      const list = await api.listValidatingWebhookConfiguration({ fieldSelector });
      return list as typeof list & {
        items: Array<V1ValidatingWebhookConfiguration & { metadata: { name: string } }>;
      };
    },
    log: log.child({ informer: 'validatingwebhookconfigurations' }),
  });
}

/** Reads one NAD from the API server (after an informer cache miss). */
export function kubeNadFetcher(kc: KubeConfig): NadFetcher {
  const api = kc.makeApiClient(CustomObjectsApi);
  return async (namespace, name) => {
    try {
      return (await api.getNamespacedCustomObject({
        group: nadGroup,
        version: nadVersion,
        plural: nadPlural,
        namespace,
        name,
      })) as NadObject;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  };
}
