/**
 * Two controller replicas with leader election on a real API server: exactly one reconciles; when the
 * leader stops (gracefully: it releases the Lease; or by crashing: the Lease has to expire) the other
 * takes over and keeps the NAD status current.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { createTestNamespace, testKubeConfig } from '../test/controlplane/test-cluster.ts';
import { startController, type RunningController } from './manager.ts';
import {
  conditionOf,
  createNad,
  eventually,
  nadWhere,
  silentLog,
  testControllerSettings,
  statusOf,
  uniqueName,
  updateNadConfig,
} from '../test/doubles/cluster-helpers.ts';
import { SimulatedAgents } from '../test/doubles/simulated-agents.ts';

const bridge = (name: string): object => ({
  cniVersion: '1.0.0',
  type: 'bridge',
  bridge: name,
  ipam: { type: 'host-local', subnet: '192.0.2.0/24' },
});

interface Lease {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
}

describe('leader election (two controllers on a real API server)', () => {
  let kc: KubeConfig;
  let rest: KubeRestClient;
  let agents: SimulatedAgents;
  let label: string;
  const running: RunningController[] = [];

  beforeAll(async () => {
    kc = testKubeConfig();
    rest = new KubeRestClient(kc);
    label = uniqueName('leader');
    agents = new SimulatedAgents(kc, rest, silentLog);
    agents.node(`${label}-a`, { labels: { 'multinet.test/run': label } });
    await agents.start();
  });

  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop()));
    await agents?.stop();
    rest?.close();
  });

  function replica(namespace: string, identity: string, releaseOnCancel = true): Promise<RunningController> {
    return startController({
      ...testControllerSettings(kc, namespace, label, identity),
      leaderElection: {
        namespace,
        name: 'multinet-controller',
        identity,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 250,
        releaseOnCancel,
      },
    }).then((c) => {
      running.push(c);
      return c;
    });
  }

  const lease = (namespace: string): Promise<Lease> =>
    rest.request<Lease>({
      method: 'GET',
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/multinet-controller`,
    });

  async function twoReplicas(
    namespace: string,
    releaseOnCancel: boolean,
  ): Promise<[RunningController, RunningController]> {
    const one = await replica(namespace, 'replica-1', releaseOnCancel);
    const two = await replica(namespace, 'replica-2', releaseOnCancel);
    await eventually('a leader', () => one.isLeader() || two.isLeader());
    await new Promise((r) => setTimeout(r, 750)); // three retry periods: still one leader
    expect([one.isLeader(), two.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = one.isLeader() ? one : two;
    expect((await lease(namespace)).spec?.holderIdentity).toBe(leader === one ? 'replica-1' : 'replica-2');
    return one.isLeader() ? [one, two] : [two, one];
  }

  it('one replica leads; the standby takes over at once when the leader shuts down', async () => {
    const namespace = await createTestNamespace('leader-graceful');
    const [leader, standby] = await twoReplicas(namespace, true);
    expect((await lease(namespace)).spec?.holderIdentity).toMatch(/^replica-/);
    await createNad(rest, namespace, 'net', bridge('mnet0'));
    await nadWhere(rest, namespace, 'net', 'Ready', (n) => conditionOf(n, 'Ready')?.status === 'True');
    expect(standby.controller.queueDepth).toBe(0);

    const stoppedAt = Date.now();
    await leader.stop();
    expect((await lease(namespace)).spec?.holderIdentity).toBeUndefined(); // released on shutdown
    await eventually('the standby leads', () => standby.isLeader(), 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(3000); // before the 3 s lease could have expired

    await updateNadConfig(rest, namespace, 'net', bridge('mnet1'));
    const updated = await nadWhere(
      rest,
      namespace,
      'net',
      'Ready at generation 2 (written by the new leader)',
      (n) => statusOf(n)?.observedGeneration === 2 && conditionOf(n, 'Ready')?.status === 'True',
    );
    expect(statusOf(updated)?.nodes).toBe('1/1');
    expect((await lease(namespace)).spec).toMatchObject({
      holderIdentity: expect.stringMatching(/^replica-/),
      leaseTransitions: 1,
    });
    await standby.stop();
  }, 60_000);

  it('the standby takes over once the Lease expires when the leader dies without releasing it', async () => {
    const namespace = await createTestNamespace('leader-crash');
    const [leader, standby] = await twoReplicas(namespace, false);
    await createNad(rest, namespace, 'net', bridge('mnet0'));
    await nadWhere(rest, namespace, 'net', 'Ready', (n) => conditionOf(n, 'Ready')?.status === 'True');

    const crashedAt = Date.now();
    await leader.stop(); // releaseOnCancel: false, as if the process was killed
    expect((await lease(namespace)).spec?.holderIdentity).toMatch(/^replica-/);
    await eventually('the standby leads', () => standby.isLeader(), 15_000);
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(2500); // waited for the 3 s lease

    await updateNadConfig(rest, namespace, 'net', bridge('mnet1'));
    await nadWhere(
      rest,
      namespace,
      'net',
      'Ready at generation 2 (written by the new leader)',
      (n) => statusOf(n)?.observedGeneration === 2 && conditionOf(n, 'Ready')?.status === 'True',
    );
    await standby.stop();
  }, 60_000);
});
