/**
 * The seed walkthrough end to end through the Helm chart: the chart installed with helm, the
 * controller, webhook and agent run as real processes under the chart's ServiceAccounts (so the
 * chart's RBAC is what they get), the agent on a local node with real network namespaces (root).
 * Apply the seed's NAD and see it Ready, see a broken NAD rejected by the webhook, create samplepod,
 * ADD as the runtime would, find net1 and network-status, delete the pod, DEL, nothing left. Then
 * each ServiceAccount is denied what its component does not need, and helm upgrade keeps it working.
 */
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { nadGroup, nadPlural, nadVersion } from '../../lib/nad.ts';
import { requireNetnsPrerequisites, type Pod } from '../../dev/netns/local-node.ts';
import { seedMacvlanNad, seedPod, type SeedNad } from '../../playground/seed.ts';
import { expectApiError, testKubeConfig } from '../controlplane/test-cluster.ts';
import { readFixture } from '../fixtures.ts';
import { ChartSystem } from './chart-system.ts';
import { eventually } from '../../dev/eventually.ts';

requireNetnsPrerequisites();

const admin = testKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);
const system = new ChartSystem(admin);
const steps = { total: 0, passed: 0 };
const nadApi = { group: nadGroup, version: nadVersion, plural: nadPlural };

function createNad(body: SeedNad, kc: KubeConfig = admin): Promise<unknown> {
  const namespace = system.podNamespace;
  return kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...nadApi, namespace, body });
}

/** The seed NAD with rangeEnd outside its subnet: what the agent would fail on later. */
function brokenNad(nad: SeedNad): SeedNad {
  const config = nad.spec.config.replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.3.216"');
  expect(config).not.toBe(nad.spec.config);
  return { ...nad, metadata: { name: 'macvlan-broken' }, spec: { config } };
}

async function expectForbidden(call: Promise<unknown>): Promise<void> {
  const status = await expectApiError(call);
  expect({ code: status.code, reason: status.reason }).toEqual({ code: 403, reason: 'Forbidden' });
}

beforeAll(async () => {
  await system.start();
}, 180_000);

afterAll(async () => {
  await system.stop(steps.passed < steps.total);
}, 60_000);

beforeEach(() => void steps.total++);
afterEach(() => {
  expect(system.crashed()).toEqual([]);
});

describe('the seed walkthrough through the Helm chart, with the chart RBAC', () => {
  let nad: SeedNad;
  let pod: Pod;
  let env: Record<string, string>;

  it('admits the seed NAD, which the controller marks Ready from the agent report', async () => {
    nad = seedMacvlanNad(system.node!);
    await createNad(nad);
    const conditions = await eventually(
      'macvlan-conf to be Ready',
      async () => {
        const current = (await custom.getNamespacedCustomObject({
          ...nadApi,
          namespace: system.podNamespace,
          name: 'macvlan-conf',
        })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
        const list = current.status?.conditions ?? [];
        return list.some((c) => c.type === 'Ready' && c.status === 'True') ? list : undefined;
      },
      60_000,
    );
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
    steps.passed++;
  }, 90_000);

  it('rejects a broken NAD at apply time with the JSON path of the problem', async () => {
    const status = await expectApiError(createNad(brokenNad(nad)));
    expect(status.message).toContain('admission webhook "nads.multinet.io" denied the request');
    expect(status.message).toContain(
      'spec.config.ipam.rangeEnd: "192.0.3.216" is not inside subnet "192.0.2.0/24"',
    );
    steps.passed++;
  });

  it('creates samplepod, runs ADD as the runtime would: net1 in range and network-status in the seed shape', async () => {
    const created = await core.createNamespacedPod({
      namespace: system.podNamespace,
      body: seedPod(system.node!.nodeName),
    });
    pod = system.node!.newPod(undefined, 'samplepod');
    env = {
      ...pod.env(),
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${system.podNamespace};K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=${pod.containerId};K8S_POD_UID=${created.metadata!.uid!}`,
    };
    const add = await eventually('a successful ADD', () => {
      const out = system.node!.runShim('ADD', env);
      if (out.code !== 0) throw new Error(out.stdout || out.stderr);
      return out;
    });
    expect(add.json).toMatchObject({
      interfaces: expect.arrayContaining([expect.objectContaining({ name: 'eth0' })]),
    });
    const net1 = pod.interfaces().find((i) => i.ifname === 'net1');
    expect(net1?.addresses[0]).toMatch(/^192\.0\.2\.2(0\d|1[0-6])\/24$/);
    const ip = net1!.addresses[0]!.split('/')[0]!;

    const annotated = await eventually('network-status on the pod', async () => {
      const current = await core.readNamespacedPod({ name: 'samplepod', namespace: system.podNamespace });
      return current.metadata?.annotations?.[networkStatusAnnotation];
    });
    const status = JSON.parse(annotated) as Array<Record<string, unknown>>;
    const reference = JSON.parse(readFixture('seed', 'network-status.reference.json')) as Array<
      Record<string, unknown>
    >;
    expect(status).toHaveLength(reference.length);
    expect(status[0]).toMatchObject({ name: 'podnet', interface: 'eth0', default: true, dns: {} });
    expect(status[1]).toMatchObject({
      name: `${system.podNamespace}/macvlan-conf`,
      interface: 'net1',
      ips: [ip],
      dns: {},
    });
    // Every field of the seed's entry (the agent may add spec fields such as the gateway).
    expect(Object.keys(status[1]!)).toEqual(expect.arrayContaining(Object.keys(reference[1]!)));
    const events = await eventually('the AddedInterface events', async () => {
      const list = await core.listNamespacedEvent({
        namespace: system.podNamespace,
        fieldSelector: 'involvedObject.name=samplepod,reason=AddedInterface',
      });
      return list.items.length >= 2 ? list.items.map((e) => e.message) : undefined;
    });
    expect(events).toContain(`Add net1 [${ip}] from ${system.podNamespace}/macvlan-conf`);
    steps.passed++;
  }, 90_000);

  it('deletes the pod, runs DEL: no interface and no address lease is left', async () => {
    await core.deleteNamespacedPod({
      name: 'samplepod',
      namespace: system.podNamespace,
      gracePeriodSeconds: 0,
    });
    const del = system.node!.runShim('DEL', env);
    expect({ code: del.code, stdout: del.stdout }).toEqual({ code: 0, stdout: '' });
    expect(pod.interfaces()).toEqual([]);
    expect(system.node!.leases('macvlan-conf')).toEqual([]);
    steps.passed++;
  });
});

describe("each chart ServiceAccount is denied what its component doesn't need", () => {
  const clients = (kc: KubeConfig) => ({
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    leases: kc.makeApiClient(CoordinationV1Api),
  });
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const releaseNs = (): string => system.release.namespace;

  it('the agent: no deleting NADs, no secrets, no webhook configurations', async () => {
    const agent = clients(system.identities.agent.kubeConfig);
    const namespace = system.podNamespace;
    await expectForbidden(
      agent.custom.deleteNamespacedCustomObject({ ...nadApi, namespace, name: 'macvlan-conf' }),
    );
    await expectForbidden(
      agent.core.readNamespacedSecret({ namespace: releaseNs(), name: system.webhookSecretName }),
    );
    await expectForbidden(agent.core.listNamespacedSecret({ namespace: releaseNs() }));
    await expectForbidden(agent.admission.listValidatingWebhookConfiguration());
    await expectForbidden(agent.core.deleteNamespacedPod({ namespace, name: 'samplepod' }));
    steps.passed++;
  });

  it('the webhook: no patching pods, only its own Secret and its own configuration', async () => {
    const webhook = clients(system.identities.webhook.kubeConfig);
    const namespace = system.podNamespace;
    await expectForbidden(
      webhook.core.patchNamespacedPod(
        { namespace, name: 'samplepod', body: { metadata: { labels: { a: 'b' } } } },
        mergePatch,
      ),
    );
    await expectForbidden(
      webhook.core.readNamespacedSecret({ namespace: releaseNs(), name: 'not-the-webhook-tls' }),
    );
    await expectForbidden(webhook.core.listNamespacedSecret({ namespace: releaseNs() }));
    await expectForbidden(webhook.admission.listValidatingWebhookConfiguration());
    await expectForbidden(
      webhook.admission.readValidatingWebhookConfiguration({ name: 'someone-elses-webhook' }),
    );
    await expectForbidden(createNad(seedMacvlanNad(system.node!), system.identities.webhook.kubeConfig));
    // What it does use, by name: allowed.
    const own = await webhook.admission.listValidatingWebhookConfiguration({
      fieldSelector: `metadata.name=${system.webhookConfigName}`,
    });
    expect(own.items.map((c) => c.metadata?.name)).toEqual([system.webhookConfigName]);
    await webhook.core.readNamespacedSecret({ namespace: releaseNs(), name: system.webhookSecretName });
    steps.passed++;
  });

  it('the controller: no secrets, no pods, no NAD specs, only its own Lease', async () => {
    const controller = clients(system.identities.controller.kubeConfig);
    const namespace = system.podNamespace;
    await expectForbidden(
      controller.core.readNamespacedSecret({ namespace: releaseNs(), name: system.webhookSecretName }),
    );
    await expectForbidden(
      controller.core.patchNamespacedPod(
        { namespace, name: 'samplepod', body: { metadata: { labels: { a: 'b' } } } },
        mergePatch,
      ),
    );
    await expectForbidden(
      controller.custom.patchNamespacedCustomObject(
        { ...nadApi, namespace, name: 'macvlan-conf', body: { spec: { config: '{}' } } },
        mergePatch,
      ),
    );
    await expectForbidden(
      controller.leases.readNamespacedLease({ namespace: releaseNs(), name: 'someone-elses-lease' }),
    );
    const lease = await controller.leases.readNamespacedLease({
      namespace: releaseNs(),
      name: `${system.release.fullname}-controller`,
    });
    expect(lease.spec?.holderIdentity).toBeTruthy();
    steps.passed++;
  });
});

describe('the components under the chart RBAC', () => {
  it('were refused nothing they tried (no 403 in their logs)', () => {
    for (const [component, log] of Object.entries(system.logs())) {
      expect(log.length).toBeGreaterThan(0);
      const refused = log.split('\n').filter((line) => /\b403\b|forbidden/i.test(line));
      expect({ component, refused }).toEqual({ component, refused: [] });
    }
    steps.passed++;
  });
});

describe('helm upgrade of the running system', () => {
  it('keeps the caBundle and the webhook answering', async () => {
    const before = await system.caBundle();
    await system.release.upgrade(system.values({ logLevel: 'info' }));
    expect(await system.release.status()).toMatchObject({ version: 2, info: { status: 'deployed' } });
    expect(await system.caBundle()).toBe(before);
    const status = await expectApiError(createNad(brokenNad(seedMacvlanNad(system.node!))));
    expect(status.message).toContain('admission webhook "nads.multinet.io" denied the request');
    steps.passed++;
  }, 60_000);
});
