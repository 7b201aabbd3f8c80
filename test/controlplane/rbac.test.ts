/** RBAC really decides: ServiceAccount tokens from the TokenRequest API, denied and allowed calls. */
import { AuthenticationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { createTestNamespace, expectApiError, testKubeConfig, testServiceAccount } from './test-cluster.ts';

test('a ServiceAccount token without rights is authenticated but forbidden (403)', async () => {
  const namespace = await createTestNamespace('rbac-deny');
  const nobody = await testServiceAccount(namespace, 'nobody');
  expect(nobody.username).toBe(`system:serviceaccount:${namespace}:nobody`);

  const review = await nobody
    .kubeConfig()
    .makeApiClient(AuthenticationV1Api)
    .createSelfSubjectReview({ body: {} });
  expect(review.status?.userInfo?.username).toBe(nobody.username);
  expect(review.status?.userInfo?.groups).toEqual(
    expect.arrayContaining([
      'system:serviceaccounts',
      `system:serviceaccounts:${namespace}`,
      'system:authenticated',
    ]),
  );

  const denied = await expectApiError(
    nobody.kubeConfig().makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace }),
  );
  expect(denied).toEqual({
    code: 403,
    reason: 'Forbidden',
    message: `configmaps is forbidden: User "${nobody.username}" cannot list resource "configmaps" in API group "" in the namespace "${namespace}"`,
  });
});

test('a ServiceAccount gets exactly the rights of its Role', async () => {
  const namespace = await createTestNamespace('rbac-allow');
  const admin = testKubeConfig().makeApiClient(CoreV1Api);
  await admin.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'settings' }, data: { a: '1' } },
  });
  const reader = await testServiceAccount(namespace, 'reader', {
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
  });
  const api = reader.kubeConfig().makeApiClient(CoreV1Api);

  const list = await api.listNamespacedConfigMap({ namespace });
  expect(list.items.map((c) => c.metadata?.name)).toContain('settings');
  expect((await api.readNamespacedConfigMap({ namespace, name: 'settings' })).data).toEqual({ a: '1' });

  // Only get and list: creating is forbidden, and so is reading in another namespace.
  await expect(
    api.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'mine' } } }),
  ).rejects.toMatchObject({ code: 403 });
  await expect(api.listNamespacedConfigMap({ namespace: 'default' })).rejects.toMatchObject({ code: 403 });
});

test('cluster rules are granted cluster-wide', async () => {
  const namespace = await createTestNamespace('rbac-cluster');
  const lister = await testServiceAccount(namespace, 'lister', {
    clusterRules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }],
  });
  const names = (await lister.kubeConfig().makeApiClient(CoreV1Api).listNamespace()).items.map(
    (n) => n.metadata?.name,
  );
  expect(names).toEqual(expect.arrayContaining(['default', namespace]));
});
