/**
 * The webhook on the real control plane: started in-process on 127.0.0.1 with a self-managed
 * certificate (Secret in the test's namespace), its ValidatingWebhookConfiguration registered with url +
 * caBundle and scoped to the test's namespace (other tests share the cluster), then exercised through
 * the API server: bad NADs and pods naming missing NADs are denied with the expected messages, the
 * seed's NAD and pods are admitted, and rotating the certificate twice while reviews flow loses none.
 */
import { request } from 'node:https';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import winston from 'winston';
import { parseManifests } from '../lib/k8s/manifests.ts';
import { listenTcp } from '../platform/nodejs/listen.ts';
import { nadGroup, nadPlural, nadVersion } from '../lib/nad.ts';
import { uniqueName } from '../dev/controlplane/access.ts';
import {
  apiStatus,
  createTestNamespace,
  expectApiError,
  testKubeConfig,
} from '../test/controlplane/test-cluster.ts';
import { readFixture } from '../test/fixtures.ts';
import { createCa } from '../platform/pki.ts';
import { inspectCertificate } from './certs/serving-cert.ts';
import { secretKeys } from './certs/self-managed.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { deleteWebhookConfiguration } from './kube-ports.ts';
import { defaultPodPolicy } from './pod.validator.ts';
import { webhookDefaults, webhookPaths } from './webhook-configuration.ts';
import { startWebhook, type RunningWebhook } from './webhook.ts';
import { eventually } from '../dev/eventually.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const configName = uniqueName('multinet-webhook-test');
const rangeOutside =
  '{"cniVersion":"0.3.0","type":"macvlan","master":"eth0","ipam":{"type":"host-local","subnet":"192.168.1.0/24","rangeStart":"192.168.1.200","rangeEnd":"192.168.2.216"}}';

let namespace: string;
let webhook: RunningWebhook | undefined;

function seed(file: string): Record<string, unknown> {
  return parseManifests(readFixture('seed', file))[0]!.object;
}

function createNad(body: object): Promise<unknown> {
  return custom.createNamespacedCustomObject({
    group: nadGroup,
    version: nadVersion,
    plural: nadPlural,
    namespace,
    body,
  });
}

function nad(name: string, config: string): object {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name },
    spec: { config },
  };
}

function pod(name: string, networks: string | undefined): V1Pod {
  return {
    metadata: {
      name,
      ...(networks !== undefined ? { annotations: { 'k8s.v1.cni.cncf.io/networks': networks } } : {}),
    },
    spec: { containers: [{ name: 'app', image: 'alpine' }] },
  };
}

const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<true> =>
  eventually(what, async () => (await check()) || undefined, { timeoutMs, intervalMs: 100 });

beforeAll(async () => {
  namespace = await createTestNamespace('webhook');
  webhook = await startWebhook(
    {
      listen: { host: '127.0.0.1', port: 0 },
      policy: defaultPodPolicy,
      certs: {
        mode: 'self-managed',
        secretNamespace: namespace,
        secretName: 'multinet-webhook-tls',
        caRolloverDelayMs: 0,
      },
      configuration: {
        name: configName,
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
        excludedNamespaces: [],
        // Only this test's namespace: tests running alongside in the same cluster are not affected.
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      },
      register: true,
      shutdownGraceMs: 1000,
    },
    { kubeConfig: kc, log, listen: listenTcp },
  );
  await until('the webhook to be ready', () => webhook!.ready());
  // The API server picks the configuration up from its informer: probe until the webhook answers.
  await until('the API server to call the webhook', async () => {
    try {
      await createNad(nad(uniqueName('probe'), '{"cniVersion":"1.0.0","type":"../x"}'));
      return false;
    } catch (err) {
      return apiStatus(err).message.startsWith('admission webhook "nads.multinet.io" denied');
    }
  });
}, 60_000);

afterAll(async () => {
  const client = new KubeRestClient(kc);
  await deleteWebhookConfiguration(client, configName).catch(() => undefined);
  client.close();
  await webhook?.stop();
});

test('the Secret holds the CA and certificate, and the configuration trusts the bundle', async () => {
  const secret = await core.readNamespacedSecret({ namespace, name: 'multinet-webhook-tls' });
  expect(Object.keys(secret.data ?? {}).sort()).toEqual(Object.values(secretKeys).sort());
  const bundle = Buffer.from(secret.data![secretKeys.bundle]!, 'base64').toString();
  expect(webhook!.certs.current()?.caBundlePem).toBe(bundle);
  const config = await kc
    .makeApiClient(AdmissionregistrationV1Api)
    .readValidatingWebhookConfiguration({ name: configName });
  const pathOf = Object.fromEntries(
    Object.entries(webhookDefaults.webhookNames).map(([key, name]) => [
      name,
      webhookPaths[key as keyof typeof webhookPaths],
    ]),
  );
  expect(config.webhooks?.length).toBeGreaterThanOrEqual(3);
  for (const w of config.webhooks ?? []) {
    expect(Buffer.from(w.clientConfig.caBundle!, 'base64').toString()).toBe(bundle);
    expect(w.clientConfig.url).toBe(`${webhook!.url}${pathOf[w.name]}`);
  }
});

test('a bad NAD is rejected with the JSON path and what is wrong', async () => {
  const status = await expectApiError(createNad(nad('bad-range', rangeOutside)));
  expect(status).toEqual({
    code: 403,
    reason: 'Forbidden',
    message:
      'admission webhook "nads.multinet.io" denied the request: spec.config.ipam.rangeEnd: "192.168.2.216" is not inside subnet "192.168.1.0/24"',
  });
});

test("the seed's NAD and pods are admitted; the pods right after the NAD", async () => {
  await createNad(seed('macvlan-conf.nad.yaml'));
  const one = seed('samplepod.yaml') as V1Pod;
  const two = seed('samplepod-two-macvlan.yaml') as V1Pod;
  two.metadata!.name = 'samplepod-two';
  expect((await core.createNamespacedPod({ namespace, body: one })).metadata?.uid).toBeDefined();
  expect((await core.createNamespacedPod({ namespace, body: two })).metadata?.uid).toBeDefined();
});

test('a pod naming a missing NAD is rejected with the index and namespace', async () => {
  await until(
    'the seed NAD in the cache',
    () => webhook!.catalog.get(namespace, 'macvlan-conf') !== undefined,
  );
  const status = await expectApiError(
    core.createNamespacedPod({ namespace, body: pod('missing', 'macvlan-conf,other/macvlan-conf') }),
  );
  expect(status.code).toBe(403);
  expect(status.message).toBe(
    'admission webhook "pods.multinet.io" denied the request: networks[1] "other/macvlan-conf": NetworkAttachmentDefinition not found in namespace "other"',
  );
});

test('pods without network annotations are not even sent to the webhook', async () => {
  const count = async (): Promise<number> =>
    (await webhook!.metrics.reviews.get()).values
      .filter((v) => v.labels.resource === 'pods')
      .reduce((sum, v) => sum + v.value, 0);
  const before = await count();
  await core.createNamespacedPod({ namespace, body: pod('plain', undefined) });
  expect(await count()).toBe(before);
});

/** A review sent straight to the webhook on a new TLS connection (a fresh handshake each time). */
function directReview(caPem: string, i: number): Promise<boolean> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `direct-${i}`,
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: pod(`direct-${i}`, 'macvlan-conf'),
    },
  });
  const url = new URL(`${webhook!.url}${webhookPaths.pods}`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        ca: caPem,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const parsed = JSON.parse(text) as { response: { uid: string; allowed: boolean } };
          resolve(parsed.response.uid === `direct-${i}` && parsed.response.allowed);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('rotating the certificate twice while 300 reviews flow loses none', async () => {
  const caPem = webhook!.certs.current()!.caBundlePem!;
  const serials = [inspectCertificate(webhook!.certs.current()!.certPem).serialNumber];
  const total = 300;
  let next = 0;
  const failures: string[] = [];
  let rotations: Promise<void> = Promise.resolve();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < total; i = next++) {
      if (i === 100 || i === 200) {
        rotations = rotations.then(async () => {
          serials.push(inspectCertificate((await webhook!.rotateCertificate()).certPem).serialNumber);
        });
      }
      try {
        if (i % 2 === 0) {
          if (!(await directReview(caPem, i))) failures.push(`direct ${i}: wrong answer`);
          continue;
        }
        const bad = i % 4 === 1;
        const call = core.createNamespacedPod({
          namespace,
          dryRun: 'All',
          body: pod(`flow-${i}`, bad ? 'macvlan-conf,nope' : 'macvlan-conf'),
        });
        if (!bad) await call;
        else {
          const status = await expectApiError(call);
          if (
            !status.message.endsWith(
              'networks[1] "' +
                namespace +
                '/nope": NetworkAttachmentDefinition not found in namespace "' +
                namespace +
                '"',
            )
          ) {
            failures.push(`api ${i}: ${status.code} ${status.message}`);
          }
        }
      } catch (err) {
        failures.push(`${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  await rotations;
  expect(failures).toEqual([]);
  expect(new Set(serials).size).toBe(3);
  const served = (await webhook!.metrics.certificateLoads.get()).values[0]!.value;
  expect(served).toBe(3);
}, 60_000);

test('a caBundle reset by someone else (a Helm upgrade) is written back', async () => {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const config = await admission.readValidatingWebhookConfiguration({ name: configName });
  const strangerCa = (await createCa('someone else', 1)).certPem;
  for (const w of config.webhooks ?? []) w.clientConfig.caBundle = Buffer.from(strangerCa).toString('base64');
  await admission.replaceValidatingWebhookConfiguration({ name: configName, body: config });
  const expected = Buffer.from(webhook!.certs.current()!.caBundlePem!).toString('base64');
  await until('the caBundle to be restored', async () =>
    ((await admission.readValidatingWebhookConfiguration({ name: configName })).webhooks ?? []).every(
      (w) => w.clientConfig.caBundle === expected,
    ),
  );
  await until('the API server to trust the webhook again', async () => {
    try {
      await createNad(nad(uniqueName('after-reset'), rangeOutside));
      return false;
    } catch (err) {
      return apiStatus(err).message.startsWith(
        'admission webhook "nads.multinet.io" denied the request: spec.config',
      );
    }
  });
});
