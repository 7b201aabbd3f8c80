/**
 * NAD conditions on a real API server: a controller in this process (reconciling only this test's
 * namespace and counting only this test's simulated nodes), agents simulated by writing
 * NodeNetworkStates, and NADs that are valid, invalid, or use a plugin one node lacks; then the fixes.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { createTestNamespace, testKubeConfig } from '../test/controlplane/test-cluster.ts';
import { startController, type RunningController } from './manager.ts';
import {
  conditionOf,
  createNad,
  nadWhere,
  silentLog,
  testControllerSettings,
  statusOf,
  uniqueName,
  updateNadConfig,
} from '../test/doubles/cluster-helpers.ts';
import { SimulatedAgents, type SimulatedNode } from '../test/doubles/simulated-agents.ts';

const bridge = {
  cniVersion: '1.0.0',
  type: 'bridge',
  bridge: 'mnet0',
  ipam: { type: 'host-local', subnet: '192.0.2.0/24' },
};
const macvlan = {
  cniVersion: '1.0.0',
  type: 'macvlan',
  master: 'eth0',
  mode: 'bridge',
  ipam: {
    type: 'host-local',
    subnet: '198.51.100.0/24',
    rangeStart: '198.51.100.10',
    rangeEnd: '198.51.100.50',
  },
};

describe('NAD conditions (controller on a real API server)', () => {
  let kc: KubeConfig;
  let rest: KubeRestClient;
  let namespace: string;
  let agents: SimulatedAgents;
  let nodeA: SimulatedNode;
  let nodeB: SimulatedNode;
  let controller: RunningController;

  beforeAll(async () => {
    kc = testKubeConfig();
    rest = new KubeRestClient(kc);
    namespace = await createTestNamespace('nad-conditions');
    const label = uniqueName('conditions');
    const labels = { 'multinet.test/run': label };
    agents = new SimulatedAgents(rest, silentLog);
    nodeA = agents.node(`${label}-a`, { labels });
    nodeB = agents.node(`${label}-b`, { labels, plugins: new Set(['bridge', 'host-local', 'tuning']) });
    await agents.start();
    controller = await startController({
      ...testControllerSettings(kc, namespace, label, 'conditions-test'),
      progressIntervalMs: 1000,
    });
  }, 30_000);

  afterAll(async () => {
    await controller?.stop();
    await agents?.stop();
    rest?.close();
  });

  it('marks a valid NAD Accepted and Ready on every node, with observedGeneration', async () => {
    const created = await createNad(rest, namespace, 'good', bridge);
    const nad = await nadWhere(
      rest,
      namespace,
      'good',
      'Ready',
      (n) => conditionOf(n, 'Ready')?.status === 'True',
    );
    expect(statusOf(nad)).toMatchObject({
      observedGeneration: created.metadata.generation,
      pluginType: 'bridge',
      nodes: '2/2',
      readyNodes: 2,
      totalNodes: 2,
    });
    expect(conditionOf(nad, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(conditionOf(nad, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    for (const c of statusOf(nad)!.conditions) expect(c.observedGeneration).toBe(created.metadata.generation);
  });

  it('rejects an invalid NAD with the JSON path of the problem, and accepts it once fixed', async () => {
    await createNad(rest, namespace, 'bad', { ...bridge, ipam: { ...bridge.ipam, rangeEnd: '203.0.113.9' } });
    const rejected = await nadWhere(
      rest,
      namespace,
      'bad',
      'Accepted=False',
      (n) => conditionOf(n, 'Accepted')?.status === 'False',
    );
    expect(conditionOf(rejected, 'Accepted')).toMatchObject({
      reason: 'InvalidConfig',
      message: 'spec.config.ipam.rangeEnd: "203.0.113.9" is not inside subnet "192.0.2.0/24"',
    });
    expect(conditionOf(rejected, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidConfig' });
    const rejectedAt = conditionOf(rejected, 'Accepted')!.lastTransitionTime;

    const fixed = await updateNadConfig(rest, namespace, 'bad', bridge);
    expect(fixed.metadata.generation).toBe(2);
    const accepted = await nadWhere(
      rest,
      namespace,
      'bad',
      'Ready at generation 2',
      (n) => conditionOf(n, 'Ready')?.status === 'True' && statusOf(n)?.observedGeneration === 2,
    );
    expect(conditionOf(accepted, 'Accepted')).toMatchObject({ status: 'True', observedGeneration: 2 });
    expect(conditionOf(accepted, 'Accepted')!.lastTransitionTime >= rejectedAt).toBe(true);
    const events = await rest.request<{ items: Array<{ reason: string; involvedObject: { name: string } }> }>(
      {
        method: 'GET',
        path: `/api/v1/namespaces/${namespace}/events`,
      },
    );
    const reasons = events.items.filter((e) => e.involvedObject.name === 'bad').map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['InvalidConfig', 'ConfigAccepted', 'Ready']));
  });

  it('reports a plugin missing on one node as Degraded, and turns Ready once the node has it', async () => {
    await createNad(rest, namespace, 'storage', macvlan);
    const degraded = await nadWhere(
      rest,
      namespace,
      'storage',
      'Degraded',
      (n) => conditionOf(n, 'Degraded')?.status === 'True',
    );
    expect(conditionOf(degraded, 'Degraded')).toMatchObject({
      reason: 'PluginMissing',
      message: `plugin macvlan missing on ${nodeB.name}`,
    });
    expect(conditionOf(degraded, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'UnusableOnNodes',
      message: `usable on 1/2 nodes: plugin macvlan missing on ${nodeB.name}`,
    });
    expect(statusOf(degraded)).toMatchObject({ pluginType: 'macvlan', nodes: '1/2' });

    nodeB.options.plugins = new Set(['bridge', 'host-local', 'tuning', 'macvlan']);
    await agents.reportNow();
    const ready = await nadWhere(
      rest,
      namespace,
      'storage',
      'Ready',
      (n) => conditionOf(n, 'Ready')?.status === 'True',
    );
    expect(conditionOf(ready, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(statusOf(ready)?.nodes).toBe('2/2');
  });

  it('waits for the nodes after a spec change (Propagating), and names a stale node', async () => {
    await createNad(rest, namespace, 'moving', bridge);
    await nadWhere(rest, namespace, 'moving', 'Ready', (n) => conditionOf(n, 'Ready')?.status === 'True');

    // node-a stops following NAD changes: after the edit, it still holds generation 1.
    const frozen = agents.nads();
    const frozenA = agents.node(nodeA.name, { ...nodeA.options });
    agents.nodes.splice(agents.nodes.indexOf(nodeA), 1);
    agents.nodes.splice(agents.nodes.indexOf(frozenA), 1);
    await frozenA.report(frozen);
    await updateNadConfig(rest, namespace, 'moving', { ...bridge, bridge: 'mnet1' });
    // Progress (0/2 -> 1/2) is written at most every progress interval (1 s here).
    const waiting = `usable on 1/2 nodes; waiting for ${nodeA.name} to pick up the current config`;
    const propagating = await nadWhere(
      rest,
      namespace,
      'moving',
      'Propagating at generation 2, waiting for node-a',
      (n) => statusOf(n)?.observedGeneration === 2 && conditionOf(n, 'Ready')?.message === waiting,
    );
    expect(conditionOf(propagating, 'Ready')).toMatchObject({ status: 'False', reason: 'Propagating' });

    // node-a's agent died long ago: it is named, not counted, and the NAD is Ready on the rest.
    frozenA.options.heartbeat = (): Date => new Date(Date.now() - 3_600_000);
    await frozenA.report(frozen);
    const ready = await nadWhere(
      rest,
      namespace,
      'moving',
      'Ready',
      (n) => conditionOf(n, 'Ready')?.status === 'True',
    );
    expect(conditionOf(ready, 'Ready')?.message).toBe(
      `usable on all 1 node; not counting ${nodeA.name}: no agent report for more than 3m`,
    );
    expect(statusOf(ready)?.nodes).toBe('1/1');

    agents.nodes.push(nodeA); // back to normal for the other tests
    await agents.reportNow();
    await nadWhere(rest, namespace, 'moving', 'Ready on 2 nodes', (n) => statusOf(n)?.nodes === '2/2');
  });
});
