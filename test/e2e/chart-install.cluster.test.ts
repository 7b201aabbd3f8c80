/**
 * helm install, upgrade and uninstall of the chart against the real control plane (no kubelet or
 * scheduler there: pods are never created, so the objects are asserted, not pod readiness). The
 * release puts its components in a namespace the chart creates, and its webhook configuration selects
 * no namespace, so the tests running alongside in the same cluster are not affected.
 */
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { uniqueName } from '../../dev/controlplane/access.ts';
import {
  apiStatus,
  createTestNamespace,
  testKubeConfig,
  testKubeconfigPath,
} from '../controlplane/test-cluster.ts';
import { Release } from './release.ts';

const kc = testKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);

async function gone(read: Promise<unknown>): Promise<number> {
  try {
    await read;
    return 200;
  } catch (err) {
    return apiStatus(err).code;
  }
}

describe('helm install / upgrade / uninstall on the real control plane', () => {
  let release: Release;
  let namespace: string;
  const values = (extra: object = {}): object => ({
    namespace,
    createNamespace: true,
    // Selects no namespace: the configuration exists but sends nothing to a webhook that never runs here.
    webhook: { namespaceSelector: { matchLabels: { 'multinet.test/never': 'true' } } },
    ...extra,
  });

  beforeAll(async () => {
    release = new Release(
      uniqueName('inst'),
      await createTestNamespace('helm-release'),
      testKubeconfigPath(),
    );
    namespace = uniqueName('multinet-system');
  });

  afterAll(async () => {
    await release.uninstall(kc);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('installs every object, in the namespace the chart creates', async () => {
    await release.install(values(), '--skip-crds');
    expect(await release.status()).toMatchObject({ version: 1, info: { status: 'deployed' } });
    const prefix = release.fullname;
    const ns = await core.readNamespace({ name: namespace });
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
    for (const component of ['controller', 'webhook', 'agent']) {
      await core.readNamespacedServiceAccount({ namespace, name: `${prefix}-${component}` });
      const role = await rbac.readClusterRole({ name: `${prefix}-${component}` });
      expect(role.rules?.length).toBeGreaterThan(0);
      const binding = await rbac.readClusterRoleBinding({ name: `${prefix}-${component}` });
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: `${prefix}-${component}`, namespace },
      ]);
    }
    await rbac.readNamespacedRole({ namespace, name: `${prefix}-controller` });
    await rbac.readNamespacedRoleBinding({ namespace, name: `${prefix}-webhook` });
    const controller = await apps.readNamespacedDeployment({ namespace, name: `${prefix}-controller` });
    expect(controller.spec?.replicas).toBe(2);
    const webhook = await apps.readNamespacedDeployment({ namespace, name: `${prefix}-webhook` });
    expect(webhook.spec?.replicas).toBe(2);
    const agent = await apps.readNamespacedDaemonSet({ namespace, name: `${prefix}-agent` });
    expect(agent.spec?.template.spec?.hostNetwork).toBe(true);
    const service = await core.readNamespacedService({ namespace, name: `${prefix}-webhook` });
    expect(service.spec?.ports?.[0]).toMatchObject({ port: 443, targetPort: 'https' });
    await kc
      .makeApiClient(PolicyV1Api)
      .readNamespacedPodDisruptionBudget({ namespace, name: `${prefix}-webhook` });
    const configuration = await admission.readValidatingWebhookConfiguration({ name: `${prefix}-webhook` });
    expect(configuration.webhooks?.map((w) => w.clientConfig.service)).toEqual([
      { name: `${prefix}-webhook`, namespace, port: 443, path: '/validate/network-attachment-definitions' },
      { name: `${prefix}-webhook`, namespace, port: 443, path: '/validate/pods' },
      { name: `${prefix}-webhook`, namespace, port: 443, path: '/validate/resourceclaims' },
    ]);
  });

  it('upgrades in place: new replicas and flags, same objects', async () => {
    const prefix = release.fullname;
    const before = await apps.readNamespacedDeployment({ namespace, name: `${prefix}-controller` });
    await release.upgrade(values({ logLevel: 'debug', controller: { replicas: 3 } }));
    expect(await release.status()).toMatchObject({ version: 2, info: { status: 'deployed' } });
    const after = await apps.readNamespacedDeployment({ namespace, name: `${prefix}-controller` });
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    expect(after.spec?.replicas).toBe(3);
    expect(after.spec?.template.spec?.containers[0]?.args).toContain('--log-level=debug');
    const agent = await apps.readNamespacedDaemonSet({ namespace, name: `${prefix}-agent` });
    expect(agent.spec?.template.spec?.containers[0]?.args).toContain('--log-level=debug');
  });

  it('uninstalls every cluster-scoped object it made (the CRDs stay)', async () => {
    const prefix = release.fullname;
    await release.uninstall(kc);
    for (const component of ['controller', 'webhook', 'agent']) {
      expect(await gone(rbac.readClusterRole({ name: `${prefix}-${component}` }))).toBe(404);
      expect(await gone(rbac.readClusterRoleBinding({ name: `${prefix}-${component}` }))).toBe(404);
    }
    expect(await gone(admission.readValidatingWebhookConfiguration({ name: `${prefix}-webhook` }))).toBe(404);
    // Without a namespace controller the namespace stays Terminating; it is being deleted.
    const ns = await core.readNamespace({ name: namespace }).catch(() => undefined);
    expect(ns === undefined || ns.metadata?.deletionTimestamp !== undefined).toBe(true);
    const crds = kc.makeApiClient(ApiextensionsV1Api);
    const crd = await gone(
      crds.readCustomResourceDefinition({ name: 'network-attachment-definitions.k8s.cni.cncf.io' }),
    );
    expect(crd).toBe(200);
  });
});
