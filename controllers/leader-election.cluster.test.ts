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
  spec?: { holderIdentity?: string; leaseTransitions?: number; acquireTime?: string; renewTime?: string };
}

const ms = (time: string | undefined): number => Date.parse(time ?? '');

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
    agents = new SimulatedAgents(rest, silentLog);
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
    const leader = one.isLeader() ? one : two;
    const identity = leader === one ? 'replica-1' : 'replica-2';
    // Three renews by the same holder (the Lease's renewTime moves on): the standby never took over.
    const first = await lease(namespace);
    expect(first.spec?.holderIdentity).toBe(identity);
    await eventually('three renews by the leader', async () => {
      const now = await lease(namespace);
      expect(now.spec?.holderIdentity).toBe(identity);
      return ms(now.spec?.renewTime) - ms(first.spec?.renewTime) >= 3 * 250;
    });
    expect([one.isLeader(), two.isLeader()].filter(Boolean)).toHaveLength(1);
    expect((await lease(namespace)).spec?.leaseTransitions ?? 0).toBe(0);
    return one.isLeader() ? [one, two] : [two, one];
  }

  it('one replica leads; the standby takes over at once when the leader shuts down', async () => {
    const namespace = await createTestNamespace('leader-graceful');
    const [leader, standby] = await twoReplicas(namespace, true);
    expect((await lease(namespace)).spec?.holderIdentity).toMatch(/^replica-/);
    await createNad(rest, namespace, 'net', bridge('mnet0'));
    await nadWhere(rest, namespace, 'net', 'Ready', (n) => conditionOf(n, 'Ready')?.status === 'True');
    expect(standby.controller.queueDepth).toBe(0);

    await leader.stop();
    const released = await lease(namespace);
    expect(released.spec?.holderIdentity).toBeUndefined(); // released on shutdown
    await eventually('the standby leads', () => standby.isLeader(), 10_000);
    // The standby took the Lease before the 3 s lease could have expired (the Lease's own times).
    const taken = await lease(namespace);
    expect(ms(taken.spec?.acquireTime) - ms(released.spec?.renewTime)).toBeLessThan(3000);

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

    await leader.stop(); // releaseOnCancel: false, as if the process was killed
    const abandoned = await lease(namespace);
    expect(abandoned.spec?.holderIdentity).toMatch(/^replica-/);
    await eventually('the standby leads', () => standby.isLeader(), 15_000);
    // The standby waited for the 3 s lease: it took it at least that long after the last renew.
    const taken = await lease(namespace);
    expect(taken.spec?.holderIdentity).not.toBe(abandoned.spec?.holderIdentity);
    expect(ms(taken.spec?.acquireTime) - ms(abandoned.spec?.renewTime)).toBeGreaterThanOrEqual(3000);

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
