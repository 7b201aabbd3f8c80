/**
 * multinet on three real kubelet nodes on one machine (dev/cluster), installed with helm from the image
 * built from the Dockerfile: one agent per node, the controller's and webhook's replicas spread, every
 * node's NodeNetworkState; pods on different nodes talking over the default network and over a macvlan
 * on each node's eth0; cluster-wide IPAM with whereabouts; what an operator sees when a NAD works on 2 of
 * 3 nodes and when a node goes away and comes back; a rolling upgrade of the agent under a scaling
 * Deployment; a node restarted with 40 pods on it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { eventually } from '../../dev/eventually.ts';
import { clusterChartTarget } from '../../dev/cluster/cluster-chart.ts';
import type { KubeCluster } from '../../dev/cluster/kube-cluster.ts';
import { installWhereabouts } from '../../dev/cluster/whereabouts.ts';
import { installChart, type ChartOnNode } from '../../dev/node/multinet-chart.ts';
import {
  attachmentsWithoutPods,
  deployment,
  ipv4,
  kubectlOf,
  manifest,
  nad,
  podOn,
  requireNodeHost,
  startTestCluster,
} from './support.ts';

let cluster: KubeCluster;
let chart: ChartOnNode;
let kubectl: (...args: string[]) => Promise<string>;
const work = mkdtempSync(join(tmpdir(), 'multinet-nodes-test-'));
const timings: Record<string, number> = {};
/** How long the controller waits for an agent's report before it stops counting its node (the test's setting). */
const staleAfterSeconds = 20;

/** The macvlan on every node's uplink, addresses given per pod (static IPAM, the `ips` capability). */
const macvlanStatic = nad('macvlan-static', {
  type: 'macvlan',
  master: 'eth0',
  mode: 'bridge',
  capabilities: { ips: true },
  ipam: { type: 'static' },
});

/** A macvlan NAD on every node's uplink whose addresses come from one whereabouts range, applied. */
async function applyWhereaboutsMacvlan(name: string, range: string): Promise<void> {
  const config = { type: 'macvlan', master: 'eth0', mode: 'bridge', ipam: { type: 'whereabouts', range } };
  await kubectl('apply', '-f', manifest(work, `${name}.yaml`, nad(name, config)));
}

async function createPod(name: string, node: string | undefined, networks?: string): Promise<void> {
  await kubectl('create', '-f', manifest(work, `${name}.yaml`, podOn(name, node, networks)));
}

async function waitReady(...names: string[]): Promise<void> {
  await kubectl('wait', '--for=condition=Ready', ...names.map((n) => `pod/${n}`), '--timeout=240s');
}

function networkStatus(pod: { metadata?: { annotations?: Record<string, string> } }): Array<{
  name: string;
  interface: string;
  ips?: string[];
}> {
  return JSON.parse(pod.metadata?.annotations?.[networkStatusAnnotation] ?? '[]') as Array<{
    name: string;
    interface: string;
    ips?: string[];
  }>;
}

async function podJson(name: string): Promise<{
  metadata?: { annotations?: Record<string, string> };
  spec?: { nodeName?: string };
  status?: { podIP?: string };
}> {
  return JSON.parse(await kubectl('get', 'pod', name, '-o', 'json')) as {
    spec?: { nodeName?: string };
    status?: { podIP?: string };
  };
}

async function ping(from: string, to: string): Promise<string> {
  return kubectl('exec', from, '--', 'ping', '-c', '2', '-W', '3', to);
}

beforeAll(async () => {
  await requireNodeHost();
  const started = Date.now();
  cluster = await startTestCluster({ nodes: 3, extraImages: ['multinet', 'whereabouts'] });
  timings.cluster = Date.now() - started;
  kubectl = kubectlOf(cluster);
  chart = await installChart(clusterChartTarget(cluster), {
    values: {
      controller: { staleAfterSeconds },
      agent: { heartbeatSeconds: 5 },
    },
    log: (line) => void process.stderr.write(`[nodes tier] ${line}\n`),
  });
  timings.chart = Date.now() - started - timings.cluster;
  await installWhereabouts(cluster);
  timings.whereabouts = Date.now() - started - timings.cluster - timings.chart;
}, 1_800_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`[nodes tier] cluster timings (ms): ${JSON.stringify(timings)}\n`);
}, 180_000);

describe('multinet on three real nodes', () => {
  it('has 3 Ready nodes, one agent per node, the controller and webhook replicas on different nodes, and a NodeNetworkState per node', async () => {
    const nodes = await kubectl(
      'get',
      'nodes',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name} {.status.addresses[0].address}{"\\n"}{end}',
    );
    expect(nodes.trim().split('\n').sort()).toEqual([
      'node-1 192.0.2.11',
      'node-2 192.0.2.12',
      'node-3 192.0.2.13',
    ]);
    const pods = JSON.parse(await kubectl('-n', chart.namespace, 'get', 'pods', '-o', 'json')) as {
      items: Array<{
        metadata: { name: string; labels: Record<string, string> };
        spec: { nodeName: string };
      }>;
    };
    const byComponent = (component: string): string[] =>
      pods.items
        .filter((p) => p.metadata.labels['app.kubernetes.io/component'] === component)
        .map((p) => p.spec.nodeName)
        .sort();
    expect(byComponent('agent')).toEqual(['node-1', 'node-2', 'node-3']);
    for (const component of ['controller', 'webhook']) {
      const placed = byComponent(component);
      expect([component, placed.length, new Set(placed).size]).toEqual([component, 2, 2]);
    }
    const states = await eventually(
      'a NodeNetworkState for every node',
      async () => {
        const names = (await kubectl('get', 'nns', '-o', 'jsonpath={.items[*].metadata.name}'))
          .trim()
          .split(/\s+/);
        return names.length === 3 ? names.sort() : undefined;
      },
      60_000,
    );
    expect(states).toEqual(['node-1', 'node-2', 'node-3']);
    for (const node of cluster.nodes) {
      const conf = JSON.parse(readFileSync(node.hostPath('/etc/cni/net.d/00-multinet.conflist'), 'utf8')) as {
        plugins: Array<{ type: string }>;
      };
      expect([node.name, conf.plugins[0]!.type]).toEqual([node.name, 'multinet-cni']);
    }
  });

  it("pods on different nodes reach each other over eth0 (the default network across nodes) and over net1, a macvlan on each node's eth0", async () => {
    await kubectl('apply', '-f', manifest(work, 'macvlan-static.yaml', macvlanStatic));
    await eventually(
      'macvlan-static READY on 3/3 nodes',
      async () => /^macvlan-static\s+True\s+macvlan\s+3\/3/m.test(await kubectl('get', 'net-attach-def')),
      90_000,
    );
    const started = Date.now();
    await createPod(
      'talk-1',
      'node-1',
      JSON.stringify([{ name: 'macvlan-static', ips: ['203.0.113.11/24'] }]),
    );
    await createPod(
      'talk-2',
      'node-2',
      JSON.stringify([{ name: 'macvlan-static', ips: ['203.0.113.12/24'] }]),
    );
    await waitReady('talk-1', 'talk-2');
    timings.twoPods = Date.now() - started;
    const [one, two] = [await podJson('talk-1'), await podJson('talk-2')];
    expect([one.spec?.nodeName, two.spec?.nodeName]).toEqual(['node-1', 'node-2']);
    expect(ipv4(await kubectl('exec', 'talk-1', '--', 'ip', '-4', 'a'), 'net1')).toBe('203.0.113.11/24');
    expect(networkStatus(two).map((s) => [s.interface, s.ips])).toEqual([
      ['eth0', [two.status!.podIP!]],
      ['net1', ['203.0.113.12']],
    ]);
    expect(one.status!.podIP).toMatch(/^198\.51\.100\.([0-9]|[1-5][0-9]|6[0-3])$/);
    expect(two.status!.podIP).toMatch(/^198\.51\.100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])$/);
    expect(await ping('talk-1', two.status!.podIP!)).toMatch(/2 packets received/);
    expect(await ping('talk-1', '203.0.113.12')).toMatch(/2 packets received/);
    expect(await ping('talk-2', '203.0.113.11')).toMatch(/2 packets received/);
  });

  it('gives pods on different nodes distinct addresses from one whereabouts range, freed when they go', async () => {
    await applyWhereaboutsMacvlan('macvlan-wb', '203.0.113.64/28');
    const names = ['wb-1', 'wb-2', 'wb-3'];
    for (const [i, name] of names.entries()) await createPod(name, `node-${i + 1}`, 'macvlan-wb');
    await waitReady(...names);
    const addresses: string[] = [];
    for (const name of names) {
      const net1 = ipv4(await kubectl('exec', name, '--', 'ip', '-4', 'a'), 'net1');
      expect(net1).toMatch(/^203\.0\.113\.(6[4-9]|7[0-9])\/28$/);
      addresses.push(net1!.split('/')[0]!);
    }
    expect(new Set(addresses).size).toBe(3);
    expect(await ping('wb-1', addresses[2]!)).toMatch(/2 packets received/);
    const allocations = async (): Promise<number> => {
      const pool = JSON.parse(
        await kubectl('-n', 'kube-system', 'get', 'ippools.whereabouts.cni.cncf.io', '-o', 'json'),
      ) as { items: Array<{ spec: { allocations?: Record<string, unknown> } }> };
      return pool.items.reduce((n, p) => n + Object.keys(p.spec.allocations ?? {}).length, 0);
    };
    expect(await allocations()).toBe(3);
    await kubectl('delete', 'pod', ...names, '--wait=true');
    await eventually(
      'the whereabouts allocations to be freed',
      async () => (await allocations()) === 0,
      60_000,
    );
  });

  it("warns, for a host-local NAD used on several nodes, that each node hands out the range's addresses on its own", async () => {
    const out = await cluster.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify(
        nad('macvlan-host-local', {
          type: 'macvlan',
          master: 'eth0',
          mode: 'bridge',
          ipam: {
            type: 'host-local',
            subnet: '203.0.113.0/24',
            rangeStart: '203.0.113.100',
            rangeEnd: '203.0.113.120',
          },
        }),
      ),
    );
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/Warning: .*host-local/);
    await kubectl('delete', 'net-attach-def', 'macvlan-host-local');
  });

  it('marks a NAD whose master exists on 2 of 3 nodes Degraded, naming the third', async () => {
    for (const node of cluster.nodes.slice(0, 2)) {
      await node.exec('ip', ['link', 'add', 'storage0', 'type', 'bridge']);
      await node.exec('ip', ['link', 'set', 'storage0', 'up']);
    }
    await kubectl(
      'apply',
      '-f',
      manifest(
        work,
        'storage.yaml',
        nad('storage', {
          type: 'macvlan',
          master: 'storage0',
          mode: 'bridge',
          ipam: { type: 'static', addresses: [{ address: '203.0.113.200/24' }] },
        }),
      ),
    );
    const degraded = await eventually(
      'storage Degraded naming node-3',
      async () => {
        const conditions = JSON.parse(
          (await kubectl('get', 'net-attach-def', 'storage', '-o', 'jsonpath={.status.conditions}')) || '[]',
        ) as Array<{ type: string; status: string; message: string }>;
        const d = conditions.find((c) => c.type === 'Degraded' && c.status === 'True');
        return d?.message.includes('node-3') ? d : undefined;
      },
      90_000,
    );
    expect(degraded.message).toContain('storage0');
    expect(degraded.message).not.toMatch(/node-[12]/);
    expect(await kubectl('get', 'net-attach-def', 'storage')).toMatch(/^storage\s+\S+\s+macvlan\s+2\/3/m);
  });

  it('stops counting a node whose kubelet and agent stopped once its report is stale (2/2, its NodeNetworkState marked stale), and counts it again when it is back', async () => {
    const node3 = cluster.nodes[2]!;
    await node3.stop();
    const stopped = Date.now();
    await eventually(
      'macvlan-static READY on 2/2 nodes',
      async () => /^macvlan-static\s+True\s+macvlan\s+2\/2/m.test(await kubectl('get', 'net-attach-def')),
      (staleAfterSeconds + 60) * 1000,
    );
    timings.staleAfter = Date.now() - stopped;
    expect(timings.staleAfter).toBeGreaterThanOrEqual(staleAfterSeconds * 1000 - 5000);
    expect(
      await kubectl('get', 'nns', 'node-3', '-o', 'jsonpath={.metadata.labels.multinet\\.io/stale}'),
    ).toBe('true');
    expect(
      await kubectl('get', 'nns', 'node-1', '-o', 'jsonpath={.metadata.labels.multinet\\.io/stale}'),
    ).toBe('');
    await node3.start(Date.now() + 180_000, 180_000);
    await cluster.waitForNodesReady();
    await eventually(
      'macvlan-static READY on 3/3 nodes again',
      async () => /^macvlan-static\s+True\s+macvlan\s+3\/3/m.test(await kubectl('get', 'net-attach-def')),
      180_000,
    );
    expect(
      await kubectl('get', 'nns', 'node-3', '-o', 'jsonpath={.metadata.labels.multinet\\.io/stale}'),
    ).toBe('');
  }, 600_000);

  it('rolls a changed agent node by node with `helm upgrade` while a Deployment of 12 macvlan pods scales up and down on all nodes: every pod gets its networks, no lease is left', async () => {
    // Room for two generations of the Deployment's pods: a scale-up may come before the last scale-down's DELs.
    await applyWhereaboutsMacvlan('scaler-net', '203.0.113.32/27');
    await kubectl(
      'apply',
      '-f',
      manifest(
        work,
        'scaler.yaml',
        deployment('scaler', 0, 'scaler-net', {
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'DoNotSchedule',
              labelSelector: { matchLabels: { app: 'scaler' } },
            },
          ],
        }),
      ),
    );
    const agentPods = async (): Promise<string[]> =>
      (
        await kubectl(
          '-n',
          chart.namespace,
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/component=agent',
          '-o',
          'jsonpath={.items[*].metadata.name}',
        )
      )
        .trim()
        .split(/\s+/)
        .sort();
    const before = await agentPods();
    const upgrade = chart.upgrade({
      agent: { podAnnotations: { 'multinet.test/rolled': String(Date.now()) } },
    });
    const scaling = (async (): Promise<void> => {
      for (const replicas of [12, 3, 12, 0, 12]) {
        await kubectl('scale', 'deployment/scaler', `--replicas=${replicas}`);
        await kubectl('rollout', 'status', 'deployment/scaler', '--timeout=300s');
      }
    })();
    await Promise.all([upgrade, scaling]);
    const after = await agentPods();
    expect(after.filter((p) => before.includes(p))).toEqual([]);
    const listed = JSON.parse(await kubectl('get', 'pods', '-l', 'app=scaler', '-o', 'json')) as {
      items: Array<{
        spec: { nodeName: string };
        metadata: { annotations?: Record<string, string>; deletionTimestamp?: string };
      }>;
    };
    // The last scale-up's pods (the scale-down's may still be terminating).
    const pods = { items: listed.items.filter((p) => !p.metadata.deletionTimestamp) };
    expect(pods.items).toHaveLength(12);
    expect(new Set(pods.items.map((p) => p.spec.nodeName)).size).toBe(3);
    for (const p of pods.items) expect(networkStatus(p).map((s) => s.interface)).toEqual(['eth0', 'net1']);
    const events = await kubectl(
      'get',
      'events',
      '--field-selector',
      'reason=FailedCreatePodSandBox',
      '-o',
      'jsonpath={range .items[*]}{.involvedObject.name}: {.message}{"\\n"}{end}',
    );
    expect(events.trim()).toBe('');
    await kubectl('scale', 'deployment/scaler', '--replicas=0');
    await eventually(
      'the scaler pods to be gone and their leases freed',
      async () => {
        const left = (await kubectl('get', 'pods', '-l', 'app=scaler', '-o', 'name')).trim();
        const pool = JSON.parse(
          await kubectl('-n', 'kube-system', 'get', 'ippools.whereabouts.cni.cncf.io', '-o', 'json'),
        ) as { items: Array<{ spec: { allocations?: Record<string, unknown> } }> };
        const allocations = pool.items.reduce((n, p) => n + Object.keys(p.spec.allocations ?? {}).length, 0);
        return left === '' && allocations === 0;
      },
      120_000,
    );
    // No attachment record outlives its pod: each names a pod that still runs on that node.
    expect(await attachmentsWithoutPods(cluster, kubectl)).toEqual(cluster.nodes.map((n) => [n.name, []]));
  }, 900_000);

  it('brings back every pod of a node restarted whole with 40 pods on it with all its networks (never Running without them); the agent stays within its memory limit with its delegates counted, never OOM-killed', async () => {
    await applyWhereaboutsMacvlan('crowd-net', '203.0.113.128/25');
    await kubectl(
      'apply',
      '-f',
      manifest(
        work,
        'crowd.yaml',
        deployment('crowd', 40, 'crowd-net', { nodeSelector: { 'kubernetes.io/hostname': 'node-3' } }),
      ),
    );
    await kubectl('rollout', 'status', 'deployment/crowd', '--timeout=600s');
    const node3 = cluster.nodes[2]!;
    const restarted = Date.now();
    await node3.stop({ reboot: true });
    await node3.start(Date.now() + 180_000, 180_000);
    await cluster.waitForNodesReady();
    type Pod = {
      metadata: { name: string; annotations?: Record<string, string> };
      status: { conditions?: Array<{ type: string; status: string }> };
    };
    const crowd = async (): Promise<Pod[]> =>
      (JSON.parse(await kubectl('get', 'pods', '-l', 'app=crowd', '-o', 'json')) as { items: Pod[] }).items;
    const ready = (p: Pod): boolean =>
      p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    // While they come back, no pod is Ready without its net1 (sampled as the kubelet brings them up).
    const seen = new Set<string>();
    await eventually(
      'all 40 pods Ready again after the restart',
      async () => {
        const pods = await crowd();
        for (const p of pods.filter(ready)) {
          if (seen.has(p.metadata.name)) continue;
          const ipa = await kubectl('exec', p.metadata.name, '--', 'ip', '-4', 'a');
          const net1 = ipv4(ipa, 'net1');
          expect([p.metadata.name, net1]).toEqual([
            p.metadata.name,
            expect.stringMatching(/^203\.0\.113\.(129|1[3-9]\d|2[0-4]\d|25[0-4])\/25$/),
          ]);
          expect(networkStatus(p).find((s) => s.interface === 'net1')?.ips).toEqual([net1!.split('/')[0]]);
          seen.add(p.metadata.name);
        }
        return pods.length === 40 && seen.size === 40;
      },
      { timeoutMs: 600_000, intervalMs: 2000 },
    );
    timings.restart40 = Date.now() - restarted;
    const addresses = new Set(
      (await crowd()).map((p) => networkStatus(p).find((s) => s.interface === 'net1')?.ips?.[0]),
    );
    expect(addresses.size).toBe(40);
    const agent = JSON.parse(
      await kubectl(
        '-n',
        chart.namespace,
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/component=agent',
        '--field-selector',
        'spec.nodeName=node-3',
        '-o',
        'json',
      ),
    ) as {
      items: Array<{
        metadata: { uid: string };
        status: {
          containerStatuses: Array<{
            restartCount: number;
            lastState?: { terminated?: { reason?: string } };
          }>;
        };
      }>;
    };
    const pod = agent.items[0]!;
    // Its container ended with the node (the kubelet calls that Unknown), never by the OOM killer.
    expect(pod.status.containerStatuses.map((c) => c.lastState?.terminated?.reason)).not.toContain(
      'OOMKilled',
    );
    // The agent pod's memory cgroup (cgroup v1, the kubelet's cgroupfs driver): its peak counts the
    // delegate processes it ran, which live in its container.
    const podCgroup = join(
      '/sys/fs/cgroup/memory',
      node3.cgroups.podsRoot,
      'kubepods',
      'burstable',
      `pod${pod.metadata.uid}`,
    );
    const peak = Number(readFileSync(join(podCgroup, 'memory.max_usage_in_bytes'), 'utf8'));
    const limit = Number(readFileSync(join(podCgroup, 'memory.limit_in_bytes'), 'utf8'));
    const oomKills = /oom_kill (\d+)/.exec(readFileSync(join(podCgroup, 'memory.oom_control'), 'utf8'))?.[1];
    timings.agentPeakMb = Math.round(peak / 1048576);
    expect(limit).toBe(512 * 1024 * 1024);
    expect(peak).toBeLessThan(limit);
    expect(oomKills ?? '0').toBe('0');
    await kubectl('delete', 'deployment', 'crowd', '--wait=true');
  }, 1_200_000);
});
