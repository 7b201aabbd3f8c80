/**
 * The seed walkthrough with the agent in Kubernetes mode, against the real API server (controlplane
 * project) and real network namespaces (root): apply macvlan-conf, create samplepod on the agent's
 * node, run ADD as the runtime would, and find net1 in the netns and network-status on the pod in the
 * seed's shape. The seed's master (eth0) and subnet (192.168.1.0/24) are swapped for the lab's veth
 * and 192.0.2.0/24, so nothing leaves the machine.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import type { NodeNetworkState } from '../../lib/node-state.ts';
import { createTestNamespace, testKubeConfig, testKubeconfigPath } from '../controlplane/test-cluster.ts';
import { readFixture } from '../fixtures.ts';
import { Lab, requireNetnsPrerequisites } from './lab.ts';
import { eventually } from '../../dev/eventually.ts';
import { seedMacvlanNad, seedPod } from '../../playground/seed.ts';

requireNetnsPrerequisites();

describe('the seed walkthrough with the agent on the API server', () => {
  let lab: Lab;
  let namespace: string;
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  beforeAll(async () => {
    lab = new Lab('seed');
    namespace = await createTestNamespace('seed');
    const nad = seedMacvlanNad(lab);
    await custom.createNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace,
      plural: 'network-attachment-definitions',
      body: { ...nad, metadata: { ...nad.metadata, namespace } },
    });
    await lab.startAgent([], testKubeconfigPath());
  });

  afterAll(async () => {
    await lab?.destroy();
    await custom
      .deleteClusterCustomObject({
        group: 'multinet.io',
        version: 'v1alpha1',
        plural: 'nodenetworkstates',
        name: lab.nodeName,
      })
      .catch(() => undefined);
  });

  it('attaches net1 and writes network-status on the pod in the seed shape', async () => {
    const pod = await core.createNamespacedPod({ namespace, body: seedPod(lab.nodeName) });
    const netnsPod = lab.newPod(undefined, 'samplepod');
    const env = {
      ...netnsPod.env(),
      CNI_ARGS: `K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=${netnsPod.containerId};K8S_POD_UID=${pod.metadata!.uid!}`,
    };
    // The agent may still be syncing its NAD copy right after start: a runtime retries, so do we.
    const add = await eventually('a successful ADD', () => {
      const out = lab.runShim('ADD', env);
      return Promise.resolve(out.code === 0 ? out : undefined);
    });
    expect(add.json).toMatchObject({
      interfaces: expect.arrayContaining([expect.objectContaining({ name: 'eth0' })]),
    });
    const net1 = netnsPod.interfaces().find((i) => i.ifname === 'net1');
    expect(net1?.addresses[0]).toMatch(/^192\.0\.2\.2(0\d|1[0-6])\/24$/);

    const annotated = await eventually('network-status on the pod', async () => {
      const current = await core.readNamespacedPod({ name: 'samplepod', namespace });
      return current.metadata?.annotations?.[networkStatusAnnotation];
    });
    const status = JSON.parse(annotated) as Array<Record<string, unknown>>;
    const reference = JSON.parse(readFixture('seed', 'network-status.reference.json')) as Array<
      Record<string, unknown>
    >;
    expect(status).toHaveLength(2);
    expect(status[0]).toMatchObject({ name: 'podnet', interface: 'eth0', default: true, dns: {} });
    expect(status[1]).toMatchObject({
      name: `${namespace}/macvlan-conf`,
      interface: 'net1',
      ips: [net1!.addresses[0]!.split('/')[0]],
      dns: {},
    });
    expect(Object.keys(status[1]!).sort()).toEqual(expect.arrayContaining(Object.keys(reference[1]!).sort()));

    const events = await eventually('an AddedInterface event', async () => {
      const list = await core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=samplepod',
      });
      const found = list.items.filter((e) => e.reason === 'AddedInterface');
      return found.length >= 2 ? found : undefined;
    });
    expect(events.map((e) => e.message).sort()).toEqual([
      expect.stringMatching(/^Add eth0 \[198\.51\.100\.\d+\] from podnet$/),
      `Add net1 [${net1!.addresses[0]!.split('/')[0]}] from ${namespace}/macvlan-conf`,
    ]);

    expect(lab.runShim('DEL', env).code).toBe(0);
    expect(netnsPod.interfaces()).toEqual([]);
  });

  it('reports the node in its NodeNetworkState, with a NAD whose plugin is missing', async () => {
    await custom.createNamespacedCustomObject({
      group: 'k8s.cni.cncf.io',
      version: 'v1',
      namespace,
      plural: 'network-attachment-definitions',
      body: {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'sriov-net', namespace },
        spec: {
          config: JSON.stringify({
            cniVersion: '1.0.0',
            type: 'sriov',
            ipam: { type: 'host-local', subnet: '203.0.113.0/24' },
          }),
        },
      },
    });
    const state = await eventually('the NodeNetworkState with the sriov problem', async () => {
      const object = (await custom.getClusterCustomObject({
        group: 'multinet.io',
        version: 'v1alpha1',
        plural: 'nodenetworkstates',
        name: lab.nodeName,
      })) as NodeNetworkState;
      return object.status?.problems.some((p) => p.name === 'sriov-net') ? object : undefined;
    });
    expect(state.status).toMatchObject({
      nodeName: lab.nodeName,
      defaultNetwork: expect.stringContaining('10-podnet.conflist'),
    });
    expect(state.status!.networkCount).toBeGreaterThanOrEqual(2);
    expect(state.status!.digests).toHaveLength(64);
    expect(state.status!.problems.find((p) => p.name === 'sriov-net')).toEqual({
      namespace,
      name: 'sriov-net',
      configHash: expect.stringMatching(/^[0-9a-f]{16}$/),
      missingPlugins: ['sriov'],
    });
    expect(state.status!.problems.find((p) => p.name === 'macvlan-conf')).toBeUndefined();
  });
});
