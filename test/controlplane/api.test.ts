/**
 * The control plane is a real one: /version, CRD schema validation, custom resources, the status
 * subresource and watches behave as in a cluster.
 */
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  VersionApi,
  Watch,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { createTestNamespace, expectApiError, testKubeConfig } from './test-cluster.ts';

const group = 'test.multinet.io';
const version = 'v1';
const plural = 'widgets';

interface Widget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number };
  spec: { size: number };
  status?: { phase?: string; observedGeneration?: number };
}

const widgetCrd: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: { size: { type: 'integer', minimum: 1 } },
              },
              status: {
                type: 'object',
                properties: { phase: { type: 'string' }, observedGeneration: { type: 'integer' } },
              },
            },
          },
        },
      },
    ],
  },
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Creates the CRD (or keeps an existing one) and waits until it is Established and served. */
async function applyCrd(kc: KubeConfig, crd: V1CustomResourceDefinition): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  try {
    await api.createCustomResourceDefinition({ body: crd });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    const current = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    const established = current.status?.conditions?.some(
      (c) => c.type === 'Established' && c.status === 'True',
    );
    if (established) return;
    if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata!.name} not Established within 20 s`);
    await sleep(100);
  }
}

/** Retries `call` while the API answers 404 (a just-Established CRD can take a moment to be served). */
async function whileNotFound<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404) || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

function widget(name: string, size: number): Widget {
  return { apiVersion: `${group}/${version}`, kind: 'Widget', metadata: { name }, spec: { size } };
}

let kc: KubeConfig;
let custom: CustomObjectsApi;
beforeAll(async () => {
  kc = testKubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  await applyCrd(kc, widgetCrd);
});

test('/version reports kube-apiserver v1.37.2', async () => {
  const info = await kc.makeApiClient(VersionApi).getCode();
  expect(info.gitVersion).toBe('v1.37.2');
  expect(info.major).toBe('1');
  expect(info.minor).toBe('37');
});

test('a custom resource is created, read back and validated against the CRD schema', async () => {
  const namespace = await createTestNamespace('crd');
  await whileNotFound(() =>
    custom.createNamespacedCustomObject({ group, version, plural, namespace, body: widget('a', 3) }),
  );
  const read = (await custom.getNamespacedCustomObject({
    group,
    version,
    plural,
    namespace,
    name: 'a',
  })) as Widget;
  expect(read.spec).toEqual({ size: 3 });
  expect(read.metadata.namespace).toBe(namespace);
  expect(read.metadata.generation).toBe(1);

  const invalid = custom.createNamespacedCustomObject({
    group,
    version,
    plural,
    namespace,
    body: widget('b', 0),
  });
  const rejected = await expectApiError(invalid);
  expect(rejected.code).toBe(422);
  expect(rejected.reason).toBe('Invalid');
  expect(rejected.message).toContain(
    'spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1',
  );
});

test('status is written only through the status subresource', async () => {
  const namespace = await createTestNamespace('status');
  const created = (await whileNotFound(() =>
    custom.createNamespacedCustomObject({ group, version, plural, namespace, body: widget('w', 1) }),
  )) as Widget;

  // Through the main resource the status is ignored (and the spec change is kept).
  const withStatus = { ...created, spec: { size: 2 }, status: { phase: 'Ignored' } };
  const replaced = (await custom.replaceNamespacedCustomObject({
    group,
    version,
    plural,
    namespace,
    name: 'w',
    body: withStatus,
  })) as Widget;
  expect(replaced.status).toBeUndefined();
  expect(replaced.metadata.generation).toBe(2);

  // Through /status the status is stored and a spec change is ignored; the generation stays.
  const statusUpdate = { ...replaced, spec: { size: 99 }, status: { phase: 'Ready', observedGeneration: 2 } };
  const updated = (await custom.replaceNamespacedCustomObjectStatus({
    group,
    version,
    plural,
    namespace,
    name: 'w',
    body: statusUpdate,
  })) as Widget;
  expect(updated.status).toEqual({ phase: 'Ready', observedGeneration: 2 });
  expect(updated.spec).toEqual({ size: 2 });
  expect(updated.metadata.generation).toBe(2);
  expect(updated.metadata.resourceVersion).not.toBe(replaced.metadata.resourceVersion);

  // A write with a stale resourceVersion is a conflict.
  const stale = custom.replaceNamespacedCustomObjectStatus({
    group,
    version,
    plural,
    namespace,
    name: 'w',
    body: statusUpdate,
  });
  expect(await expectApiError(stale)).toMatchObject({ code: 409, reason: 'Conflict' });
});

test('a watch sees the events of a custom resource', async () => {
  const namespace = await createTestNamespace('watch');
  const events: { phase: string; name: string; phaseOfStatus?: string }[] = [];
  let notify = (): void => undefined;
  const until = async (predicate: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`watch did not see ${what}; saw ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        notify = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  const watchDone: { err?: unknown } = {};
  const controller = await new Watch(kc).watch(
    `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
    {},
    (phase, object: Widget) => {
      events.push({
        phase,
        name: object.metadata.name,
        ...(object.status?.phase ? { phaseOfStatus: object.status.phase } : {}),
      });
      notify();
    },
    (err: unknown) => {
      watchDone.err = err;
    },
  );
  try {
    const created = (await whileNotFound(() =>
      custom.createNamespacedCustomObject({ group, version, plural, namespace, body: widget('seen', 5) }),
    )) as Widget;
    await until(() => events.some((e) => e.phase === 'ADDED' && e.name === 'seen'), 'ADDED seen');
    await custom.replaceNamespacedCustomObjectStatus({
      group,
      version,
      plural,
      namespace,
      name: 'seen',
      body: { ...created, status: { phase: 'Ready' } },
    });
    await until(
      () => events.some((e) => e.phase === 'MODIFIED' && e.phaseOfStatus === 'Ready'),
      'MODIFIED to Ready',
    );
    await custom.deleteNamespacedCustomObject({ group, version, plural, namespace, name: 'seen' });
    await until(() => events.some((e) => e.phase === 'DELETED' && e.name === 'seen'), 'DELETED seen');
    expect(events.map((e) => e.phase)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
  } finally {
    controller.abort();
  }
});
