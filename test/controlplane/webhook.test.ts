/**
 * A ValidatingWebhookConfiguration with `url` + `caBundle` that the API server really calls over TLS:
 * a tiny node:https server on 127.0.0.1 (certificate from platform/pki.ts) denies ConfigMaps that carry a
 * label and allows the others; the denial comes back through the API.
 */
import { AdmissionregistrationV1Api, CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate } from '../../platform/pki.ts';
import { uniqueName } from '../../dev/controlplane/access.ts';
import { apiStatus, createTestNamespace, testKubeConfig, type ApiStatus } from './test-cluster.ts';

const denyLabel = 'multinet.test/deny';
const webhookName = 'deny-label.multinet.test';

interface AdmissionReview {
  apiVersion: string;
  kind: string;
  request: {
    uid: string;
    operation: string;
    namespace?: string;
    name?: string;
    object?: { metadata?: { name?: string; labels?: Record<string, string> } };
  };
}

interface Seen {
  operation: string;
  namespace?: string;
  name?: string;
  allowed: boolean;
}

async function startWebhookServer(seen: Seen[]): Promise<{ server: Server; url: string; caPem: string }> {
  const ca = await createCa('multinet webhook test CA', 1);
  const cert = await issueCertificate(ca, {
    commonName: 'webhook',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    validityDays: 1,
  });
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const review = JSON.parse(body) as AdmissionReview;
      const labels = review.request.object?.metadata?.labels ?? {};
      const allowed = labels[denyLabel] !== 'true';
      seen.push({
        operation: review.request.operation,
        allowed,
        ...(review.request.namespace ? { namespace: review.request.namespace } : {}),
        ...(review.request.name ? { name: review.request.name } : {}),
      });
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid: review.request.uid,
            allowed,
            ...(allowed
              ? {}
              : { status: { code: 403, message: `the label ${denyLabel}=true is not allowed here` } }),
          },
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `https://127.0.0.1:${port}/validate`, caPem: ca.certPem };
}

function configMap(name: string, deny: boolean): V1ConfigMap {
  return { metadata: { name, labels: deny ? { [denyLabel]: 'true' } : {} }, data: { k: 'v' } };
}

test('the API server calls the validating webhook over TLS and returns its denial', async () => {
  const namespace = await createTestNamespace('webhook');
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const seen: Seen[] = [];
  const { server, url, caPem } = await startWebhookServer(seen);
  const configName = uniqueName('multinet-test-webhook');
  try {
    await admission.createValidatingWebhookConfiguration({
      body: {
        metadata: { name: configName },
        webhooks: [
          {
            name: webhookName,
            clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
            rules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['CREATE', 'UPDATE'],
                resources: ['configmaps'],
              },
            ],
            // Only this test's namespace, so that tests running alongside are not affected.
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
            failurePolicy: 'Fail',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 5,
          },
        ],
      },
    });

    // The API server picks the configuration up from its informer: probe until the webhook denies.
    const deadline = Date.now() + 15_000;
    let denial: ApiStatus | undefined;
    for (let i = 0; !denial; i++) {
      try {
        await core.createNamespacedConfigMap({ namespace, body: configMap(`probe-${i}`, true) });
      } catch (err) {
        denial = apiStatus(err);
        break;
      }
      if (Date.now() > deadline) throw new Error('the webhook was not called within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(denial).toEqual({
      code: 403,
      message: `admission webhook "${webhookName}" denied the request: the label ${denyLabel}=true is not allowed here`,
    });

    const allowed = await core.createNamespacedConfigMap({ namespace, body: configMap('plain', false) });
    expect(allowed.metadata?.uid).toBeDefined();
    await expect(
      core.createNamespacedConfigMap({ namespace, body: configMap('labelled', true) }),
    ).rejects.toMatchObject({
      code: 403,
    });
    // An update that adds the label is denied too; the stored object keeps no label.
    await expect(
      core.replaceNamespacedConfigMap({
        namespace,
        name: 'plain',
        body: { ...allowed, ...configMap('plain', true) },
      }),
    ).rejects.toMatchObject({ code: 403 });
    expect(
      (await core.readNamespacedConfigMap({ namespace, name: 'plain' })).metadata?.labels,
    ).toBeUndefined();

    expect(seen).toEqual(
      expect.arrayContaining([
        { operation: 'CREATE', namespace, name: 'plain', allowed: true },
        { operation: 'CREATE', namespace, name: 'labelled', allowed: false },
        { operation: 'UPDATE', namespace, name: 'plain', allowed: false },
      ]),
    );
    expect(seen.every((s) => s.namespace === namespace)).toBe(true);
  } finally {
    await admission.deleteValidatingWebhookConfiguration({ name: configName }).catch(() => undefined);
    server.closeAllConnections();
    server.close();
  }
});
