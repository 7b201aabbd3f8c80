/**
 * A device network's conditions on a real API server: a NAD whose resourceName no Node advertises is
 * Degraded (ResourceNotAdvertised), turns Ready when a Node's status.allocatable gets the resource
 * (the controller's Node watch requeues it), and Degraded again when that Node goes.
 */
import { nadApiVersion, nadKind } from '../lib/nad.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { contentTypes, KubeRestClient } from '../platform/kube/rest.ts';
import { createTestNamespace, testKubeConfig } from '../test/controlplane/test-cluster.ts';
import {
  conditionOf,
  nadWhere,
  silentLog,
  testControllerSettings,
  uniqueName,
} from '../test/doubles/cluster-helpers.ts';
import { SimulatedAgents } from '../test/doubles/simulated-agents.ts';
import { startController, type RunningController } from './manager.ts';

describe('device network conditions (controller on a real API server)', () => {
  const kc = testKubeConfig();
  const rest = new KubeRestClient(kc);
  const label = uniqueName('devices');
  // A resource of this run only: no other test's Node advertises it.
  const resource = `test.multinet.dev/${label}`;
  const nodeName = `${label}-node`;
  let namespace: string;
  let agents: SimulatedAgents;
  let controller: RunningController;

  beforeAll(async () => {
    namespace = await createTestNamespace('device-conditions');
    agents = new SimulatedAgents(rest, silentLog);
    agents.node(`${label}-a`, { labels: { 'multinet.test/run': label } });
    await agents.start();
    controller = await startController(testControllerSettings(kc, namespace, label, 'devices-test'));
    await rest.request<NadObject>({
      method: 'POST',
      path: `/apis/k8s.cni.cncf.io/v1/namespaces/${namespace}/network-attachment-definitions`,
      body: {
        apiVersion: nadApiVersion,
        kind: nadKind,
        metadata: { name: 'vf-net', annotations: { 'k8s.v1.cni.cncf.io/resourceName': resource } },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'bridge' }) },
      },
    });
  }, 30_000);

  afterAll(async () => {
    await rest.request({ method: 'DELETE', path: `/api/v1/nodes/${nodeName}` }).catch(() => undefined);
    await controller?.stop();
    await agents?.stop();
    rest.close();
  });

  it('is Degraded while no Node advertises its resource, Ready once one does, Degraded when it goes', async () => {
    const missing = await nadWhere(
      rest,
      namespace,
      'vf-net',
      'Degraded: ResourceNotAdvertised',
      (n) => conditionOf(n, 'Degraded')?.reason === 'ResourceNotAdvertised',
    );
    expect(conditionOf(missing, 'Degraded')).toMatchObject({
      status: 'True',
      message: `no node advertises resource "${resource}" (Node status.allocatable), so pods of this network cannot be scheduled: is its device plugin running?`,
    });
    expect(conditionOf(missing, 'Ready')).toMatchObject({ status: 'False', reason: 'ResourceNotAdvertised' });

    await rest.request({
      method: 'POST',
      path: '/api/v1/nodes',
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } },
    });
    await rest.request({
      method: 'PATCH',
      path: `/api/v1/nodes/${nodeName}/status`,
      contentType: contentTypes.mergePatch,
      body: { status: { capacity: { [resource]: '2' }, allocatable: { [resource]: '2' } } },
    });
    const ready = await nadWhere(
      rest,
      namespace,
      'vf-net',
      'Ready',
      (n) => conditionOf(n, 'Ready')?.status === 'True',
    );
    expect(conditionOf(ready, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });

    await rest.request({ method: 'DELETE', path: `/api/v1/nodes/${nodeName}` });
    await nadWhere(
      rest,
      namespace,
      'vf-net',
      'Degraded again',
      (n) => conditionOf(n, 'Degraded')?.reason === 'ResourceNotAdvertised',
    );
  });
});
