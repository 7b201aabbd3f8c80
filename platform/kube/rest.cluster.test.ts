/**
 * The one Kubernetes client against a real API server: pooled connections, the field manager on every
 * write, one error type for every failure, watches, and a
 * rotated ServiceAccount token picked up from its file after a 401.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../dev/eventually.ts';
import { clusterOf } from '../../dev/controlplane/kubeconfig.ts';
import {
  createTestNamespace,
  testKubeConfig,
  testServiceAccount,
} from '../../test/controlplane/test-cluster.ts';
import { loadKubeConfig, parseKubeconfig } from './kubeconfig.ts';
import {
  contentTypes,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isInvalid,
  isNotFound,
  isUnauthorized,
  isUnreachable,
  KubeApiError,
  KubeRestClient,
  type WatchEvent,
} from './rest.ts';

interface ConfigMap {
  metadata: {
    name: string;
    resourceVersion?: string;
    managedFields?: Array<{ manager: string; operation: string }>;
  };
  data?: Record<string, string>;
}

let namespace: string;
let client: KubeRestClient;
const cmPath = (name?: string): string =>
  `/api/v1/namespaces/${namespace}/configmaps${name === undefined ? '' : `/${name}`}`;

beforeAll(async () => {
  namespace = await createTestNamespace('kube-client');
  client = new KubeRestClient(testKubeConfig(), { fieldManager: 'multinet-testcomponent', maxSockets: 4 });
});
afterAll(() => client.close());

test('every write carries the field manager; requests share a few keep-alive connections', async () => {
  await client.request({
    method: 'POST',
    path: cmPath(),
    body: { metadata: { name: 'fm' }, data: { a: '1' } },
  });
  await client.request({
    method: 'PATCH',
    path: cmPath('fm'),
    body: { data: { b: '2' } },
    contentType: contentTypes.mergePatch,
  });
  const cm = await client.request<ConfigMap>({ method: 'GET', path: cmPath('fm') });
  expect(cm.metadata.managedFields?.map((f) => `${f.manager} ${f.operation}`)).toEqual([
    'multinet-testcomponent Update',
  ]);
  const before = client.connections;
  for (let i = 0; i < 20; i++) await client.request({ method: 'GET', path: cmPath('fm') });
  await Promise.all(Array.from({ length: 40 }, () => client.request({ method: 'GET', path: cmPath('fm') })));
  expect(client.connections - before).toBeLessThanOrEqual(4);
});

test('failures are KubeApiErrors: not found, already exists, conflict, invalid, forbidden, unreachable', async () => {
  const failure = async (call: Promise<unknown>): Promise<KubeApiError> => {
    try {
      await call;
    } catch (err) {
      expect(err).toBeInstanceOf(KubeApiError);
      return err as KubeApiError;
    }
    throw new Error('expected the call to fail');
  };
  expect(isNotFound(await failure(client.request({ method: 'GET', path: cmPath('absent') })))).toBe(true);
  const created = await client.request<ConfigMap>({
    method: 'POST',
    path: cmPath(),
    body: { metadata: { name: 'twice' } },
  });
  const again = await failure(
    client.request({ method: 'POST', path: cmPath(), body: { metadata: { name: 'twice' } } }),
  );
  expect(isAlreadyExists(again)).toBe(true);
  await client.request({ method: 'PUT', path: cmPath('twice'), body: { ...created, data: { x: '1' } } });
  const stale = await failure(
    client.request({ method: 'PUT', path: cmPath('twice'), body: { ...created, data: { x: '2' } } }),
  );
  expect(isConflict(stale) && !isAlreadyExists(stale)).toBe(true);
  const invalid = await failure(
    client.request({ method: 'POST', path: cmPath(), body: { metadata: { name: 'Not_Valid' } } }),
  );
  expect(isInvalid(invalid)).toBe(true);
  expect(invalid.message).toContain('Not_Valid');

  const nobody = await testServiceAccount(namespace, 'nobody');
  const unprivileged = new KubeRestClient(parseKubeconfig(nobody.kubeconfig, 'nobody'));
  try {
    const forbidden = await failure(unprivileged.request({ method: 'GET', path: cmPath('fm') }));
    expect(isForbidden(forbidden)).toBe(true);
    expect(forbidden.message).toContain(nobody.username);
  } finally {
    unprivileged.close();
  }
  const { caPem } = clusterOf(testKubeConfig());
  const away = new KubeRestClient(
    parseKubeconfig(
      JSON.stringify({
        clusters: [
          {
            name: 'c',
            cluster: {
              server: 'https://127.0.0.1:1',
              'certificate-authority-data': Buffer.from(caPem).toString('base64'),
            },
          },
        ],
        contexts: [{ name: 'c', context: { cluster: 'c' } }],
        'current-context': 'c',
      }),
      'away',
    ),
  );
  try {
    expect(isUnreachable(await failure(away.request({ method: 'GET', path: '/version' })))).toBe(true);
  } finally {
    away.close();
  }
});

test('a watch delivers the events after a resourceVersion until it is aborted', async () => {
  const list = await client.request<{ metadata: { resourceVersion: string } }>({
    method: 'GET',
    path: cmPath(),
  });
  const events: Array<WatchEvent<ConfigMap>> = [];
  const abort = new AbortController();
  const watching = client
    .watch<ConfigMap>(
      cmPath(),
      { resourceVersion: list.metadata.resourceVersion },
      (e) => events.push(e),
      abort.signal,
    )
    .catch((err: unknown) => err);
  await client.request({ method: 'POST', path: cmPath(), body: { metadata: { name: 'watched' } } });
  await client.request({ method: 'DELETE', path: cmPath('watched') });
  await eventually('the add and the delete', () => events.length >= 2);
  expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
    'ADDED watched',
    'DELETED watched',
  ]);
  abort.abort();
  expect(await watching).toBeInstanceOf(Error);
});

test('a rotated token is read again from its file after a 401', async () => {
  const rules = [
    { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
  ];
  const first = await testServiceAccount(namespace, 'first', { clusterRules: rules });
  const second = await testServiceAccount(namespace, 'second', { clusterRules: rules });
  const dir = mkdtempSync(join(tmpdir(), 'multinet-token-'));
  try {
    const { server, caPem } = clusterOf(testKubeConfig());
    writeFileSync(join(dir, 'ca.crt'), caPem);
    writeFileSync(join(dir, 'token'), first.token);
    writeFileSync(
      join(dir, 'config'),
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server, 'certificate-authority': 'ca.crt' } }],
        users: [{ name: 'u', user: { tokenFile: 'token' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const rotating = new KubeRestClient(loadKubeConfig({ kubeconfig: join(dir, 'config') }));
    const whoami = async (): Promise<string> =>
      (
        await rotating.request<{ status: { userInfo: { username: string } } }>({
          method: 'POST',
          path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
        })
      ).status.userInfo.username;
    try {
      expect(await whoami()).toBe(first.username);
      // The kubelet rotates the projected token; the old one stops working (here: its ServiceAccount goes).
      writeFileSync(join(dir, 'token'), second.token);
      await client.request({
        method: 'DELETE',
        path: `/api/v1/namespaces/${namespace}/serviceaccounts/first`,
      });
      const old = new KubeRestClient(parseKubeconfig(first.kubeconfig, 'first'));
      try {
        await eventually('the old token to be refused', () =>
          old.request({ method: 'GET', path: '/version' }).then(
            () => false,
            (err: unknown) => isUnauthorized(err),
          ),
        );
      } finally {
        old.close();
      }
      expect(await whoami()).toBe(second.username);
    } finally {
      rotating.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
