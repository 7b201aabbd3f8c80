/**
 * NADs as DRA devices on three real kubelet nodes (dev/cluster), multinet installed with helm with
 * agent.dra on: each agent publishes the NADs usable on its node as devices of networks.multinet.io and
 * registers its plugin with the real kubelet; a Deployment whose pods ask for a NAD through a
 * ResourceClaimTemplate lands where that NAD works (no nodeSelector), each pod with the interface, and the
 * claims' status.devices[].networkData says what network-status says; a NAD usable everywhere spreads;
 * deleting the pods frees the claims, their prepared records and the IPAM leases; a NAD that breaks on a
 * node leaves that node's slice. Then 500 NADs on 3 nodes: the slices, their size, and the writes at rest.
 */
import { spawn } from 'node:child_process';
import yaml from 'js-yaml';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { draDriver } from '../../lib/dra.ts';
import { heartbeatOf } from '../../lib/node-state.ts';
import { eventually } from '../../dev/eventually.ts';
import { clusterChartTarget } from '../../dev/cluster/cluster-chart.ts';
import type { KubeCluster } from '../../dev/cluster/kube-cluster.ts';
import { installWhereabouts } from '../../dev/cluster/whereabouts.ts';
import { installChart } from '../../dev/node/multinet-chart.ts';
import {
  attachmentsWithoutPods,
  deployment,
  ipv4,
  kubectlOf,
  manifest,
  nad,
  requireNodeHost,
  startTestCluster,
} from './support.ts';

let cluster: KubeCluster;
let kubectl: (...args: string[]) => Promise<string>;
const work = mkdtempSync(join(tmpdir(), 'multinet-dra-test-'));
const timings: Record<string, number> = {};
const measured: Record<string, number | string> = {};

interface Slice {
  metadata: { name: string; resourceVersion: string };
  spec: {
    nodeName: string;
    driver: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    devices: Array<{ name: string; attributes: Record<string, { string?: string }> }>;
  };
}

interface Claim {
  metadata: { name: string; uid: string };
  status?: {
    allocation?: { devices?: { results?: Array<{ device: string; pool: string; shareID?: string }> } };
    reservedFor?: Array<{ name: string; uid: string }>;
    devices?: Array<{
      driver: string;
      pool: string;
      device: string;
      shareID?: string;
      conditions?: Array<{ type: string; status: string }>;
      networkData?: { interfaceName?: string; ips?: string[]; hardwareAddress?: string };
    }>;
  };
}

interface Pod {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }> };
}

async function slices(): Promise<Slice[]> {
  return (
    JSON.parse(await kubectl('get', 'resourceslices', '-o', 'json')) as { items: Slice[] }
  ).items.filter((s) => s.spec.driver === draDriver);
}

/** The NADs ("namespace/name") each node offers as devices. */
async function offered(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const slice of await slices()) {
    (out[slice.spec.nodeName] ??= []).push(
      ...slice.spec.devices.map((d) => d.attributes[`${draDriver}/nad`]?.string ?? '?'),
    );
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

async function podsOf(app: string): Promise<Pod[]> {
  return (JSON.parse(await kubectl('get', 'pods', '-l', `app=${app}`, '-o', 'json')) as { items: Pod[] })
    .items;
}

async function claims(): Promise<Claim[]> {
  return (JSON.parse(await kubectl('get', 'resourceclaims', '-o', 'json')) as { items: Claim[] }).items;
}

function networkStatus(pod: Pod): Array<{ name: string; interface: string; ips?: string[]; mac?: string }> {
  return JSON.parse(pod.metadata.annotations?.[networkStatusAnnotation] ?? '[]') as Array<{
    name: string;
    interface: string;
    ips?: string[];
    mac?: string;
  }>;
}

/** A ResourceClaimTemplate whose one request takes the device of NAD default/`nadName`, with `parameters`. */
function claimTemplate(
  name: string,
  nadName: string,
  parameters?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name },
    spec: {
      spec: {
        devices: {
          requests: [
            {
              name: 'net',
              exactly: {
                deviceClassName: draDriver,
                selectors: [
                  { cel: { expression: `device.attributes["${draDriver}"].nad == "default/${nadName}"` } },
                ],
              },
            },
          ],
          ...(parameters
            ? { config: [{ requests: ['net'], opaque: { driver: draDriver, parameters } }] }
            : {}),
        },
      },
    },
  };
}

/** A Deployment of `replicas` pods, each with a claim from `template` (no nodeSelector); `spread`: one per node. */
function claimDeployment(
  name: string,
  template: string,
  replicas: number,
  spread = false,
): Record<string, unknown> {
  return deployment(name, replicas, undefined, {
    resourceClaims: [{ name: 'net', resourceClaimTemplateName: template }],
    ...(spread
      ? {
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'DoNotSchedule',
              labelSelector: { matchLabels: { app: name } },
            },
          ],
        }
      : {}),
  });
}

async function whereaboutsAllocations(): Promise<number> {
  const pool = JSON.parse(
    await kubectl('-n', 'kube-system', 'get', 'ippools.whereabouts.cni.cncf.io', '-o', 'json'),
  ) as {
    items: Array<{ spec: { allocations?: Record<string, unknown> } }>;
  };
  return pool.items.reduce((n, p) => n + Object.keys(p.spec.allocations ?? {}).length, 0);
}

/** Files (not temp files) in a node's dir. */
function filesIn(node: KubeCluster['nodes'][number], dir: string): string[] {
  try {
    return readdirSync(node.hostPath(dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
  } catch {
    return [];
  }
}

beforeAll(async () => {
  await requireNodeHost();
  const started = Date.now();
  cluster = await startTestCluster({ nodes: 3, extraImages: ['multinet', 'whereabouts'] });
  timings.cluster = Date.now() - started;
  kubectl = kubectlOf(cluster);
  await installChart(clusterChartTarget(cluster), {
    values: { agent: { heartbeatSeconds: 5, dra: { enabled: true } } },
    log: (line) => void process.stderr.write(`[nodes tier] ${line}\n`),
  });
  await installWhereabouts(cluster);
  timings.install = Date.now() - started - timings.cluster;
}, 1_800_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`[nodes tier] DRA timings (ms): ${JSON.stringify(timings)}\n`);
  process.stdout.write(`[nodes tier] DRA slices measured: ${JSON.stringify(measured)}\n`);
}, 180_000);

describe('networks as DRA devices on three real nodes', () => {
  it('registers the driver with each kubelet and offers each node the NADs usable there: storage (master storage0) on node-2 only, everywhere on all', async () => {
    expect(await kubectl('get', 'deviceclass', draDriver, '-o', 'jsonpath={.metadata.name}')).toBe(draDriver);
    await cluster.nodes[1]!.exec('ip', ['link', 'add', 'storage0', 'type', 'bridge']);
    await cluster.nodes[1]!.exec('ip', ['link', 'set', 'storage0', 'up']);
    await kubectl(
      'apply',
      '-f',
      manifest(work, 'nads.yaml', {
        apiVersion: 'v1',
        kind: 'List',
        items: [
          nad('storage', {
            type: 'macvlan',
            master: 'storage0',
            mode: 'bridge',
            ipam: { type: 'whereabouts', range: '203.0.113.0/28' },
          }),
          nad('everywhere', {
            type: 'macvlan',
            master: 'eth0',
            mode: 'bridge',
            ipam: { type: 'whereabouts', range: '203.0.113.32/28' },
          }),
        ],
      }),
    );
    const started = Date.now();
    const devices = await eventually(
      'storage offered on node-2 only, everywhere on all three',
      async () => {
        const now = await offered();
        return now['node-1']?.join() === 'default/everywhere' &&
          now['node-2']?.join() === 'default/everywhere,default/storage' &&
          now['node-3']?.join() === 'default/everywhere'
          ? now
          : undefined;
      },
      120_000,
    );
    timings.firstSlices = Date.now() - started;
    expect(Object.keys(devices).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    const node2 = (await slices()).find((s) => s.spec.nodeName === 'node-2')!;
    expect(node2.spec.pool).toEqual({
      name: 'node-2',
      generation: expect.any(Number),
      resourceSliceCount: 1,
    });
    const storage = node2.spec.devices.find(
      (d) => d.attributes[`${draDriver}/nad`]?.string === 'default/storage',
    )!;
    expect(storage.attributes).toMatchObject({
      [`${draDriver}/master`]: { string: 'storage0' },
      [`${draDriver}/type`]: { string: 'macvlan' },
    });
    // Each kubelet registered the plugin (the agent's socket in its plugins_registry).
    for (const node of cluster.nodes)
      expect(readdirSync(node.hostPath('/var/lib/kubelet/plugins_registry'))).toContain(`${draDriver}.sock`);
  }, 300_000);

  it("places a Deployment of 3 pods that claim storage on node-2 without a nodeSelector, each with the interface its claim names; the claims' networkData match network-status", async () => {
    await kubectl(
      'apply',
      '-f',
      manifest(work, 'storage-net.yaml', claimTemplate('storage-net', 'storage', { interface: 'storage' })),
    );
    await kubectl(
      'apply',
      '-f',
      manifest(work, 'storage-users.yaml', claimDeployment('storage-users', 'storage-net', 3)),
    );
    const started = Date.now();
    await kubectl('rollout', 'status', 'deployment/storage-users', '--timeout=300s');
    timings.storageRollout = Date.now() - started;
    const pods = await podsOf('storage-users');
    expect(pods.map((p) => p.spec.nodeName)).toEqual(['node-2', 'node-2', 'node-2']);
    const byName = new Map((await claims()).map((c) => [c.metadata.name, c]));
    const shares = new Set<string>();
    for (const pod of pods) {
      const ipa = await kubectl('exec', pod.metadata.name, '--', 'ip', '-4', 'a');
      const address = ipv4(ipa, 'storage');
      expect([pod.metadata.name, address]).toEqual([
        pod.metadata.name,
        expect.stringMatching(/^203\.0\.113\.([0-9]|1[0-5])\/28$/),
      ]);
      const status = networkStatus(pod).find((s) => s.name === 'default/storage');
      expect(status).toMatchObject({ interface: 'storage', ips: [address!.split('/')[0]] });
      const claimName = pod.status.resourceClaimStatuses?.find((c) => c.name === 'net')?.resourceClaimName;
      const claim = await eventually(
        `the status of ${pod.metadata.name}'s claim`,
        async () => {
          const c = (await claims()).find((x) => x.metadata.name === claimName);
          return c?.status?.devices?.some((d) => d.networkData) ? c : undefined;
        },
        60_000,
      );
      expect(byName.has(claimName!)).toBe(true);
      const [device] = claim.status!.devices!;
      const [allocated] = claim.status!.allocation!.devices!.results!;
      expect(device).toMatchObject({
        driver: draDriver,
        pool: 'node-2',
        device: allocated!.device,
        shareID: allocated!.shareID,
        conditions: [expect.objectContaining({ type: 'Ready', status: 'True' })],
        networkData: { interfaceName: 'storage', ips: [address], hardwareAddress: status!.mac },
      });
      shares.add(allocated!.shareID!);
    }
    // One device (the NAD), a share of it for each pod's claim.
    expect(shares.size).toBe(3);
  }, 600_000);

  it('spreads a Deployment of 3 pods that claim a NAD usable on every node over the three nodes (net1)', async () => {
    await kubectl(
      'apply',
      '-f',
      manifest(work, 'everywhere-net.yaml', claimTemplate('everywhere-net', 'everywhere')),
    );
    await kubectl(
      'apply',
      '-f',
      manifest(work, 'spread.yaml', claimDeployment('spread', 'everywhere-net', 3, true)),
    );
    await kubectl('rollout', 'status', 'deployment/spread', '--timeout=300s');
    const pods = await podsOf('spread');
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    for (const pod of pods) {
      const net1 = ipv4(await kubectl('exec', pod.metadata.name, '--', 'ip', '-4', 'a'), 'net1');
      expect(net1).toMatch(/^203\.0\.113\.(3[2-9]|4[0-7])\/28$/);
      const status = networkStatus(pod);
      expect(status.map((x) => x.interface)).toEqual(['eth0', 'net1']);
      expect(status[1]).toMatchObject({ name: 'default/everywhere', ips: [net1!.split('/')[0]] });
    }
  }, 600_000);

  it("refuses node-1's agent token the slices of node-2 and the status of a claim allocated on node-2, saying why", async () => {
    const agent = (
      await kubectl(
        '-n',
        'multinet',
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/component=agent',
        '--field-selector',
        'spec.nodeName=node-1',
        '-o',
        'jsonpath={.items[0].metadata.name}',
      )
    ).trim();
    const token = (
      await kubectl(
        '-n',
        'multinet',
        'exec',
        agent,
        '--',
        'cat',
        '/var/run/secrets/kubernetes.io/serviceaccount/token',
      )
    ).trim();
    const config = yaml.load(readFileSync(cluster.adminKubeconfigPath, 'utf8')) as {
      users: Array<{ name: string; user: Record<string, unknown> }>;
    };
    config.users = config.users.map((u) => ({ name: u.name, user: { token } }));
    const agentKubeconfig = join(work, 'agent-node-1.kubeconfig');
    writeFileSync(agentKubeconfig, yaml.dump(config), { mode: 0o600 });
    const asAgent = (args: string[], stdin?: string): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(cluster.kubectlPath, ['--kubeconfig', agentKubeconfig, ...args], {
          stdio: ['pipe', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (code) => resolve({ code: code ?? -1, stderr }));
        child.stdin.end(stdin ?? '');
      });
    const [slice] = (await slices()).filter((x) => x.spec.nodeName === 'node-2');
    const foreign = await asAgent(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceSlice',
        metadata: { name: 'node-2-not-yours' },
        spec: {
          driver: draDriver,
          nodeName: 'node-2',
          pool: { name: 'node-2', generation: 1, resourceSliceCount: 1 },
          devices: [],
        },
      }),
    );
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toContain(
      'the multinet agent of node node-1 may only write ResourceSlices of driver networks.multinet.io on its own node; node-2-not-yours is not one',
    );
    const deleted = await asAgent(['delete', 'resourceslice', slice!.metadata.name]);
    expect(deleted.code).not.toBe(0);
    expect(deleted.stderr).toContain(
      'may only write ResourceSlices of driver networks.multinet.io on its own node',
    );
    const [claim] = (await claims()).filter((c) =>
      c.status?.allocation?.devices?.results?.some((r) => r.pool === 'node-2'),
    );
    // A PUT of the claim's status without its devices' entries (kubectl patch would GET the subresource first).
    const full = JSON.parse(
      await kubectl('get', 'resourceclaim', claim!.metadata.name, '-o', 'json'),
    ) as Claim;
    const emptied = join(work, 'emptied-claim.json');
    writeFileSync(emptied, JSON.stringify({ ...full, status: { ...full.status, devices: [] } }));
    const patched = await asAgent([
      'replace',
      '--raw',
      `/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/${claim!.metadata.name}/status`,
      '-f',
      emptied,
    ]);
    expect(patched.code).not.toBe(0);
    // The API server's own check (resourceclaims/driver, associated-node) comes before the policy's.
    expect(patched.stderr).toMatch(
      /resourceclaims\/driver|may only write the status of ResourceClaims allocated on its own node/,
    );
    expect(
      (await claims()).find((c) => c.metadata.name === claim!.metadata.name)?.status?.devices,
    ).toHaveLength(1);
  });

  it('frees the claims, their prepared records, the attachments and the leases when the pods go', async () => {
    expect(await whereaboutsAllocations()).toBe(6);
    await kubectl('delete', 'deployment', 'storage-users', 'spread', '--wait=true');
    await eventually(
      'pods, claims and leases gone',
      async () =>
        (await kubectl('get', 'pods', '-l', 'app in (storage-users,spread)', '-o', 'name')).trim() === '' &&
        (await claims()).length === 0 &&
        (await whereaboutsAllocations()) === 0,
      120_000,
    );
    for (const node of cluster.nodes) {
      await eventually(
        `no prepared claim left on ${node.name}`,
        () => Promise.resolve(filesIn(node, '/var/lib/multinet/claims').length === 0),
        60_000,
      );
    }
    // No attachment record outlives its pod: each names a pod that still runs on that node.
    expect(await attachmentsWithoutPods(cluster, kubectl)).toEqual(cluster.nodes.map((n) => [n.name, []]));
  }, 300_000);

  it("takes a NAD that breaks on a node out of that node's slice, and a pod that claims it goes where it works again", async () => {
    await cluster.nodes[1]!.exec('ip', ['link', 'del', 'storage0']);
    await eventually(
      'storage no longer offered anywhere',
      async () => !Object.values(await offered()).some((nads) => nads.includes('default/storage')),
      60_000,
    );
    await kubectl('apply', '-f', manifest(work, 'late.yaml', claimDeployment('late', 'storage-net', 1)));
    const pending = await eventually(
      'the pod Pending, unschedulable',
      async () => {
        const [pod] = await podsOf('late');
        const events = pod
          ? await kubectl(
              'get',
              'events',
              '--field-selector',
              `involvedObject.name=${pod.metadata.name},reason=FailedScheduling`,
              '-o',
              'name',
            )
          : '';
        return pod && !pod.spec.nodeName && events.trim() !== '' ? pod : undefined;
      },
      60_000,
    );
    expect(pending.status.phase).toBe('Pending');
    await cluster.nodes[2]!.exec('ip', ['link', 'add', 'storage0', 'type', 'bridge']);
    await cluster.nodes[2]!.exec('ip', ['link', 'set', 'storage0', 'up']);
    await kubectl('rollout', 'status', 'deployment/late', '--timeout=180s');
    const [pod] = await podsOf('late');
    expect(pod!.spec.nodeName).toBe('node-3');
    expect(ipv4(await kubectl('exec', pod!.metadata.name, '--', 'ip', '-4', 'a'), 'storage')).toMatch(
      /^203\.0\.113\./,
    );
    await kubectl('delete', 'deployment', 'late', '--wait=true');
  }, 300_000);

  it('publishes 500 NADs on 3 nodes in 4 slices each and writes nothing while they stay usable', async () => {
    // Every write to a ResourceSlice, seen by a watch for the whole test (kubectl prints one line each).
    const watch = spawn(
      cluster.kubectlPath,
      ['--kubeconfig', cluster.adminKubeconfigPath, 'get', 'resourceslices', '--watch-only', '-o', 'name'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let writes = 0;
    let watchErrors = '';
    watch.stdout.on(
      'data',
      (chunk: Buffer) => (writes += chunk.toString().split('\n').filter(Boolean).length),
    );
    watch.stderr.on('data', (chunk: Buffer) => (watchErrors += chunk.toString()));
    try {
      const items = Array.from({ length: 500 }, (_, i) =>
        nad(`bulk-${String(i).padStart(3, '0')}`, {
          type: 'macvlan',
          master: 'eth0',
          mode: 'bridge',
          ipam: { type: 'static' },
        }),
      );
      const file = join(work, 'bulk.yaml');
      writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
      const started = Date.now();
      await kubectl('apply', '-f', file);
      const expected = 500 + 2; // storage (now on node-3 only) and everywhere
      const all = await eventually(
        'every node offering its 500 bulk NADs',
        async () => {
          const now = await slices();
          const count = (node: string): number =>
            now.filter((s) => s.spec.nodeName === node).reduce((n, s) => n + s.spec.devices.length, 0);
          return count('node-1') === expected - 1 &&
            count('node-2') === expected - 1 &&
            count('node-3') === expected
            ? now
            : undefined;
        },
        { timeoutMs: 600_000, intervalMs: 2000 },
      );
      timings.bulkPublished = Date.now() - started;
      measured.writesToPublish = writes;
      for (const node of ['node-1', 'node-2', 'node-3']) {
        const pool = all.filter((s) => s.spec.nodeName === node);
        expect([node, pool.length, new Set(pool.map((s) => s.spec.pool.generation)).size]).toEqual([
          node,
          4,
          1,
        ]);
        expect(pool.every((s) => s.spec.pool.resourceSliceCount === 4)).toBe(true);
      }
      measured.slices = all.length;
      measured.bytes = (
        JSON.parse(await kubectl('get', 'resourceslices', '-o', 'json')) as { items: Slice[] }
      ).items
        .filter((s) => s.spec.driver === draDriver)
        .reduce((n, s) => n + Buffer.byteLength(JSON.stringify(s)), 0);
      // At rest for a minute of every agent's reports: each recomputes what is usable at every heartbeat
      // (5 s here), so the window ends when every node's NodeNetworkState carries a heartbeat a minute
      // after it began (the agents' own clock, not a sleep of the test's).
      const atRest = writes;
      const windowEnd = Date.now() + 60_000;
      await eventually(
        'every agent to report a minute of heartbeats at rest',
        async () => {
          const states = JSON.parse(await kubectl('get', 'nns', '-o', 'json')) as {
            items: Array<Parameters<typeof heartbeatOf>[0]>;
          };
          return states.items.length === 3 && states.items.every((n) => heartbeatOf(n) >= windowEnd);
        },
        { timeoutMs: 120_000, intervalMs: 2000 },
      );
      measured.writesPerMinuteAtRest = writes - atRest;
      expect(watchErrors).toBe('');
      expect(writes - atRest).toBe(0);
      // The watch sees writes: removing the NADs takes them out of every slice.
      const beforeDelete = writes;
      await kubectl('delete', '-f', file, '--wait=false');
      await eventually(
        'the bulk NADs gone from every slice',
        async () => (await slices()).reduce((n, s) => n + s.spec.devices.length, 0) === 1 + 1 + 2,
        { timeoutMs: 300_000, intervalMs: 2000 },
      );
      measured.writesToRemove = writes - beforeDelete;
      expect(writes - beforeDelete).toBeGreaterThan(0);
      measured.slicesAfter = (await slices()).length;
    } finally {
      watch.kill();
    }
  }, 1_200_000);
});
