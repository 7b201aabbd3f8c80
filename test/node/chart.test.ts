/**
 * `helm install` on the real node, as a cluster operator does it: the image built from the Dockerfile,
 * the chart's agent DaemonSet and controller and webhook Deployments as pods, a bridge with host-local
 * leases in a dir of the host as the node's default network (Flannel's plugin, reading a subnet.env on the
 * host, is the anchors tier's: test/anchors/flannel-node.test.ts). Then the seed walkthrough through kubectl, the
 * agent's identity limited to its node, agent restarts and rolling updates (also with maxSurge: 1, two
 * agents side by side) while pods are created, and `helm uninstall` giving the node back to its default
 * network.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { eventually } from '../../dev/eventually.ts';
import { renderKubeconfig } from '../../dev/controlplane/kubeconfig.ts';
import { runKubectl, type KubeNode } from '../../dev/node/kube-node.ts';
import { installChartOnNode, type ChartOnNode } from '../../dev/node/multinet-chart.ts';
import { podNetwork } from '../../dev/node/node-config.ts';
import { linkAddress } from '../../dev/node/vfs.ts';
import { seedNadForNode } from '../../playground/node-walkthrough.ts';
import { seedDir, type SeedNad } from '../../playground/seed.ts';
import {
  expectSeedNetworkStatus,
  ipv4,
  leases,
  macvlanAddress,
  podAddress,
  requireNodeHost,
  startTestNode,
} from './support.ts';

let node: KubeNode;
let chart: ChartOnNode;
const work = mkdtempSync(join(tmpdir(), 'multinet-node-chart-'));
const macvlanLeases = '/var/lib/cni/networks/macvlan-conf';
const timings: Record<string, number> = {};

async function kubectl(...args: string[]): Promise<string> {
  const out = await node.kubectl(args);
  if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim() || out.stdout.trim()}`);
  return out.stdout;
}

/** kubectl that must be refused: its error output. */
async function refused(...args: string[]): Promise<string> {
  const out = await node.kubectl(args);
  expect(out.code).not.toBe(0);
  return out.stderr;
}

function writeManifest(name: string, object: unknown): string {
  const file = join(work, name);
  writeFileSync(file, yaml.dump(object));
  return file;
}

/** A pod of the seed's shape (alpine, /bin/ash) with the given networks annotation, or none. */
function pod(name: string, networks?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(networks ? { annotations: { 'k8s.v1.cni.cncf.io/networks': networks } } : {}) },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'c', image: 'alpine', command: ['/bin/ash', '-c', 'trap : TERM INT; sleep infinity & wait'] },
      ],
    },
  };
}

/** Creates a pod and returns the ms from `kubectl create` to Ready. */
async function createAndWait(name: string, networks?: string): Promise<number> {
  const started = Date.now();
  await kubectl('create', '-f', writeManifest(`${name}.yaml`, pod(name, networks)));
  await kubectl('wait', '--for=condition=Ready', `pod/${name}`, '--timeout=180s');
  return Date.now() - started;
}

async function interfaces(name: string): Promise<{ eth0?: string; net1?: string; net2?: string }> {
  const ipa = await kubectl('exec', name, '--', 'ip', '-4', 'a');
  return { eth0: ipv4(ipa, 'eth0'), net1: ipv4(ipa, 'net1'), net2: ipv4(ipa, 'net2') };
}

/** The agent pod(s), as `kubectl get -o name` names them. */
async function agentPod(): Promise<string> {
  return (await agentPods()).map((p) => `pod/${p.name}`).join('\n');
}

/** The agent pods: name, restarts of the agent container, and whether they are being deleted. */
async function agentPods(): Promise<Array<{ name: string; restarts: number; terminating: boolean }>> {
  const list = JSON.parse(
    await kubectl(
      '-n',
      chart.namespace,
      'get',
      'pod',
      '-l',
      'app.kubernetes.io/component=agent',
      '-o',
      'json',
    ),
  ) as {
    items: Array<{
      metadata: { name: string; deletionTimestamp?: string };
      status: { containerStatuses?: Array<{ restartCount: number }> };
    }>;
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    restarts: p.status.containerStatuses?.[0]?.restartCount ?? 0,
    terminating: p.metadata.deletionTimestamp !== undefined,
  }));
}

beforeAll(async () => {
  await requireNodeHost();
  node = await startTestNode({ defaultNetwork: 'bridge', extraImages: ['multinet'] });
  const started = Date.now();
  chart = await installChartOnNode(node);
  timings.install = Date.now() - started;
  await kubectl('apply', '-f', writeManifest('macvlan-conf.yaml', await seedNadForNode(node)));
}, 1_200_000);

afterAll(async () => {
  await node?.stop();
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`[node tier] chart timings (ms): ${JSON.stringify(timings)}\n`);
}, 120_000);

describe('helm install multinet charts/multinet on the real node', () => {
  it("runs every multinet pod Ready; the agent installed the shim and wrote 00-multinet.conflist from the node's default network", async () => {
    const pods = JSON.parse(await kubectl('-n', chart.namespace, 'get', 'pods', '-o', 'json')) as {
      items: Array<{
        metadata: { name: string };
        spec: { priorityClassName?: string };
        status: { conditions?: Array<{ type: string; status: string }> };
      }>;
    };
    expect(pods.items.length).toBe(5); // 2 controllers, 2 webhooks, 1 agent
    for (const p of pods.items) {
      expect([p.metadata.name, p.status.conditions?.find((c) => c.type === 'Ready')?.status]).toEqual([
        p.metadata.name,
        'True',
      ]);
    }
    const agent = pods.items.find((p) => p.metadata.name.includes('-agent-'))!;
    expect(agent.spec.priorityClassName).toBe('system-node-critical');
    expect(await kubectl('-n', chart.namespace, 'get', 'resourcequota', '-o', 'name')).toContain(
      'agent-critical-pods',
    );
    const shim = join(node.layout.cniBinDir, 'multinet-cni');
    expect(statSync(shim).mode & 0o111).not.toBe(0);
    const generated = JSON.parse(
      readFileSync(join(node.layout.cniConfDir, '00-multinet.conflist'), 'utf8'),
    ) as {
      plugins: Array<{ type: string; defaultNetwork: { name: string; file: string } }>;
    };
    expect(generated.plugins[0]!.type).toBe('multinet-cni');
    const defaultNetwork = JSON.parse(readFileSync(generated.plugins[0]!.defaultNetwork.file, 'utf8')) as {
      plugins: Array<{ type: string; bridge: string }>;
    };
    expect(defaultNetwork.plugins[0]).toMatchObject({ type: 'bridge', bridge: node.bridge });
  });

  it('the webhook answers the API server through its Service (endpoint routing): a broken NAD is denied with the field named', async () => {
    const configuration = JSON.parse(
      await kubectl('get', 'validatingwebhookconfiguration', '-o', 'json'),
    ) as {
      items: Array<{ webhooks: Array<{ clientConfig: { service?: { name: string }; url?: string } }> }>;
    };
    const clients = configuration.items.flatMap((i) => i.webhooks.map((w) => w.clientConfig));
    expect(clients.length).toBeGreaterThan(0);
    for (const client of clients)
      expect([client.url, client.service?.name]).toEqual([undefined, `${chart.fullname}-webhook`]);
    const nad = await seedNadForNode(node);
    const broken: SeedNad = {
      ...nad,
      metadata: { name: 'macvlan-broken' },
      spec: { config: nad.spec.config.replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.3.216"') },
    };
    expect(await refused('apply', '-f', writeManifest('broken.yaml', broken))).toContain(
      'admission webhook "nads.multinet.io" denied the request: spec.config.ipam.rangeEnd: "192.0.3.216" is not inside subnet "192.0.2.0/24"',
    );
  });

  it("marks the seed's NAD READY True, and a NAD with that typo created past the webhook Accepted False naming the field", async () => {
    await eventually(
      'macvlan-conf READY True',
      async () => /^macvlan-conf\s+True\s+macvlan\s+1\/1/m.test(await kubectl('get', 'net-attach-def')),
      60_000,
    );
    const nad = await seedNadForNode(node);
    const typo = {
      ...nad,
      metadata: { name: 'macvlan-typo', labels: { 'multinet.io/validate': 'false' } },
      spec: { config: nad.spec.config.replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.3.216"') },
    };
    await kubectl('apply', '-f', writeManifest('typo.yaml', typo));
    const accepted = await eventually(
      'macvlan-typo Accepted False',
      async () => {
        const conditions = JSON.parse(
          (await kubectl('get', 'net-attach-def', 'macvlan-typo', '-o', 'jsonpath={.status.conditions}')) ||
            '[]',
        ) as Array<{ type: string; status: string; message: string }>;
        return conditions.find((c) => c.type === 'Accepted' && c.status === 'False');
      },
      60_000,
    );
    expect(accepted.message).toContain(
      'spec.config.ipam.rangeEnd: "192.0.3.216" is not inside subnet "192.0.2.0/24"',
    );
    await kubectl('delete', 'net-attach-def', 'macvlan-typo');
  });

  it("runs the seed's samplepod (unchanged) with lo, eth0 from the default network and net1, network-status in the seed's shape; the two-macvlan pod gets net1 and net2", async () => {
    const started = Date.now();
    await kubectl('create', '-f', join(seedDir, 'samplepod.yaml'));
    await kubectl('wait', '--for=condition=Ready', 'pod/samplepod', '--timeout=180s');
    timings.samplepod = Date.now() - started;
    const ipa = await kubectl('exec', 'samplepod', '--', 'ip', 'a');
    expect(ipa.match(/^\d+: (\w+)[@:]/gm)?.map((l) => l.replace(/^\d+: /, '').replace(/[@:]$/, ''))).toEqual([
      'lo',
      'eth0',
      'net1',
    ]);
    const eth0 = ipv4(ipa, 'eth0');
    const net1 = ipv4(ipa, 'net1');
    expect(eth0).toMatch(podAddress);
    expect(net1).toMatch(macvlanAddress);
    await expectSeedNetworkStatus(node, podNetwork.name, eth0, net1);
    const twoFile = writeManifest('two.yaml', {
      ...(yaml.load(readFileSync(join(seedDir, 'samplepod-two-macvlan.yaml'), 'utf8')) as object),
      metadata: {
        name: 'samplepod-two',
        annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf,macvlan-conf' },
      },
    });
    await kubectl('create', '-f', twoFile);
    await kubectl('wait', '--for=condition=Ready', 'pod/samplepod-two', '--timeout=180s');
    const two = await interfaces('samplepod-two');
    expect(two.net1).toMatch(macvlanAddress);
    expect(two.net2).toMatch(macvlanAddress);
    expect(two.net1).not.toBe(two.net2);
    // The image's spawner started their plugins, in the host's mount namespace: no fall back to Node's spawn.
    const pods = JSON.parse(await kubectl('-n', chart.namespace, 'get', 'pods', '-o', 'json')) as {
      items: Array<{ metadata: { name: string } }>;
    };
    const agent = pods.items.find((p) => p.metadata.name.includes('-agent-'))!.metadata.name;
    const agentLog = await kubectl('-n', chart.namespace, 'logs', agent);
    expect(agentLog).toContain('plugins are started by the spawner');
    expect(agentLog).toContain("delegates run in the host's mount namespace");
    expect(agentLog).not.toContain('the plugin spawner');
  }, 300_000);

  it('rejects a pod naming a missing NAD at kubectl create, naming it', async () => {
    expect(
      await refused('create', '-f', writeManifest('missing.yaml', pod('wants-missing', 'no-such-net'))),
    ).toContain(
      'admission webhook "pods.multinet.io" denied the request: networks[0] "default/no-such-net": NetworkAttachmentDefinition not found',
    );
  });

  it("a device network through the chart: the injector adds the request, the agent reaches the kubelet's pod-resources socket and the device-info dir through its mounts", async () => {
    await kubectl(
      'apply',
      '-f',
      writeManifest('vf-net.yaml', {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: {
          name: 'vf-net',
          annotations: { 'k8s.v1.cni.cncf.io/resourceName': node.vfs.resourceName },
        },
        spec: {
          config: JSON.stringify({
            cniVersion: '1.0.0',
            type: 'vf',
            ipam: { type: 'host-local', subnet: '203.0.113.0/24', dataDir: join(work, 'vf-ipam') },
          }),
        },
      }),
    );
    await createAndWait('vf-pod', 'vf-net');
    expect(
      await kubectl('get', 'pod', 'vf-pod', '-o', 'jsonpath={.spec.containers[0].resources.limits}'),
    ).toBe(JSON.stringify({ [node.vfs.resourceName]: '1' }));
    const key = networkStatusAnnotation.replace(/\./g, '\\.');
    const status = JSON.parse(
      await kubectl('get', 'pod', 'vf-pod', '-o', `jsonpath={.metadata.annotations.${key}}`),
    ) as Array<{ interface?: string; 'device-info'?: { type?: string } }>;
    expect(status.find((s) => s.interface === 'net1')?.['device-info']?.type).toBe('pci');
    const taken: string[] = [];
    for (const link of node.vfs.links) if ((await linkAddress(link)) === undefined) taken.push(link);
    expect(taken).toHaveLength(1);
    await kubectl('delete', 'pod', 'vf-pod', '--wait=true');
    await eventually(
      'the VF back on the node',
      async () => ((await linkAddress(taken[0]!)) ? true : undefined),
      60_000,
    );
  }, 240_000);

  it("deleting the pods runs DEL: their leases are freed and nothing is left in the agent's state", async () => {
    expect(leases(macvlanLeases).length).toBe(3);
    // The default network's leases of these two pods (the chart's controller and webhook pods hold others).
    const podIps = (
      await kubectl('get', 'pod', 'samplepod', 'samplepod-two', '-o', 'jsonpath={.items[*].status.podIP}')
    )
      .trim()
      .split(/\s+/);
    const defaultLeases = join(node.layout.ipamDir, podNetwork.name);
    expect(podIps.filter((ip) => leases(defaultLeases).includes(ip))).toHaveLength(2);
    await kubectl('delete', 'pod', 'samplepod', 'samplepod-two', '--wait=true');
    await eventually(
      'the leases to be freed',
      () =>
        leases(macvlanLeases).length === 0 && !leases(defaultLeases).some((ip) => podIps.includes(ip))
          ? true
          : undefined,
      60_000,
    );
    await eventually(
      'the attachment cache to be empty',
      () => (readdirOrEmpty(join(chart.stateDir, 'attachments')).length === 0 ? true : undefined),
      30_000,
    );
  }, 120_000);

  it("refuses the agent's own token for another node's pod and NodeNetworkState, saying why", async () => {
    const token = (
      await kubectl(
        '-n',
        chart.namespace,
        'exec',
        await agentPod(),
        '--',
        'cat',
        '/var/run/secrets/kubernetes.io/serviceaccount/token',
      )
    ).trim();
    const tokenKubeconfig = join(work, 'agent.kubeconfig');
    writeFileSync(
      tokenKubeconfig,
      renderKubeconfig({
        server: node.controlPlane.serverUrl,
        caPem: node.controlPlane.caPem,
        name: 'agent',
        user: 'agent',
        credentials: { token },
      }),
      { mode: 0o600 },
    );
    const asAgent = (...args: string[]): Promise<{ code: number; stderr: string }> =>
      runKubectl(node.kubectlPath, tokenKubeconfig, args);
    await kubectl(
      'create',
      '-f',
      writeManifest('elsewhere.yaml', {
        ...pod('elsewhere'),
        spec: { ...(pod('elsewhere') as { spec: object }).spec, nodeName: 'other-node' },
      }),
    );
    const onOther = await asAgent(
      'patch',
      'pod',
      'elsewhere',
      '--type=merge',
      '-p',
      JSON.stringify({ metadata: { annotations: { [networkStatusAnnotation]: '[]' } } }),
    );
    expect(onOther.code).not.toBe(0);
    expect(onOther.stderr).toContain(
      'the multinet agent of node localhost may only write pods on its own node; pod default/elsewhere is on node other-node',
    );
    const state = await asAgent(
      'create',
      '-f',
      writeManifest('nns.yaml', {
        apiVersion: 'multinet.io/v1alpha1',
        kind: 'NodeNetworkState',
        metadata: { name: 'other-node' },
      }),
    );
    expect(state.code).not.toBe(0);
    expect(state.stderr).toContain('may only write NodeNetworkState localhost, not other-node');
    await kubectl('delete', 'pod', 'elsewhere', '--wait=false');
  });

  it('hot-plug: networks added to and removed from a running pod by editing its annotation, the container untouched, across an agent restart', async () => {
    const nad = await seedNadForNode(node);
    const other = {
      ...nad,
      metadata: { name: 'other-net' },
      spec: {
        config: nad.spec.config
          .replace('"rangeStart":"192.0.2.200"', '"rangeStart":"192.0.2.230"')
          .replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.2.240"'),
      },
    };
    await kubectl('apply', '-f', writeManifest('other-net.yaml', other));
    await createAndWait('hotpod', 'macvlan-conf');
    type Status = { interface?: string; name: string; ips?: string[] };
    const state = async (): Promise<{ containerId: string; restarts: number; status: Status[] }> => {
      const pod = JSON.parse(await kubectl('get', 'pod', 'hotpod', '-o', 'json')) as {
        metadata: { annotations: Record<string, string> };
        status: { containerStatuses: Array<{ containerID: string; restartCount: number }> };
      };
      return {
        containerId: pod.status.containerStatuses[0]!.containerID,
        restarts: pod.status.containerStatuses[0]!.restartCount,
        status: JSON.parse(pod.metadata.annotations[networkStatusAnnotation] ?? '[]') as Status[],
      };
    };
    const before = await state();
    const annotate = (value: string): Promise<string> =>
      kubectl('annotate', '--overwrite', 'pod', 'hotpod', `k8s.v1.cni.cncf.io/networks=${value}`);
    const started = Date.now();
    await annotate('macvlan-conf,other-net');
    const added = await eventually(
      'net2 in the pod and in its network-status',
      async () => {
        const net2 = (await interfaces('hotpod')).net2;
        const status = (await state()).status;
        return net2 && status.some((s) => s.interface === 'net2' && s.name === 'default/other-net')
          ? net2
          : undefined;
      },
      30_000,
    );
    timings.hotPlugAdd = Date.now() - started;
    expect(added).toMatch(/^192\.0\.2\.2(3\d|40)\/24$/);
    // The agent restarted between the steps: it finds the pod's sandbox in its records.
    const agent = await agentPod();
    await kubectl('-n', chart.namespace, 'delete', agent, '--wait=true');
    await kubectl(
      '-n',
      chart.namespace,
      'rollout',
      'status',
      `daemonset/${chart.fullname}-agent`,
      '--timeout=180s',
    );
    const net1Lease = (await interfaces('hotpod')).net1!.split('/')[0]!;
    expect(leases(macvlanLeases)).toContain(net1Lease);
    await annotate('other-net');
    await eventually(
      'net1 gone, net2 kept, and network-status saying so',
      async () => {
        const ifs = await interfaces('hotpod');
        const status = (await state()).status.map((s) => s.interface);
        return !ifs.net1 && ifs.net2 === added && JSON.stringify(status) === '["eth0","net2"]'
          ? true
          : undefined;
      },
      60_000,
    );
    await eventually(
      "the removed network's lease to be freed",
      () => !leases(macvlanLeases).includes(net1Lease),
      30_000,
    );
    const after = await state();
    expect([after.containerId, after.restarts]).toEqual([before.containerId, 0]);
    const events = await kubectl(
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=hotpod',
      '-o',
      'jsonpath={.items[*].reason}',
    );
    expect(events.split(' ')).toEqual(expect.arrayContaining(['AddedInterface', 'RemovedInterface']));
    await kubectl('delete', 'pod', 'hotpod', '--wait=true');
  }, 600_000);

  it('the agent pod deleted while 10 pods are created: every pod ends with all its networks, none stuck', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `during-restart-${i}`);
    const agent = await agentPod();
    await Promise.all([
      ...names.map((n) => kubectl('create', '-f', writeManifest(`${n}.yaml`, pod(n, 'macvlan-conf')))),
      kubectl('-n', chart.namespace, 'delete', agent, '--wait=false'),
    ]);
    for (const n of names) {
      await kubectl('wait', '--for=condition=Ready', `pod/${n}`, '--timeout=180s');
      const ifs = await interfaces(n);
      expect([n, ifs.eth0 && podAddress.test(ifs.eth0), ifs.net1 && macvlanAddress.test(ifs.net1)]).toEqual([
        n,
        true,
        true,
      ]);
    }
    await kubectl('delete', 'pod', ...names, '--wait=true');
  }, 600_000);

  it('helm upgrade (a rolling update of the agent) while pods are created: no pod fails', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `during-upgrade-${i}`);
    const before = await agentPod();
    const upgraded = chart.upgrade({
      agent: { podAnnotations: { 'multinet.test/roll': String(Date.now()) } },
    });
    await Promise.all(
      names.map((n) => kubectl('create', '-f', writeManifest(`${n}.yaml`, pod(n, 'macvlan-conf')))),
    );
    await upgraded;
    expect(await agentPod()).not.toBe(before);
    for (const n of names) {
      await kubectl('wait', '--for=condition=Ready', `pod/${n}`, '--timeout=180s');
      expect((await interfaces(n)).net1).toMatch(macvlanAddress);
    }
    await kubectl('delete', 'pod', ...names, '--wait=true');
  }, 600_000);

  it('helm upgrade with maxSurge: 1 (old and new agent side by side) while pods are created: the new agent takes socket and probe port over, no pod fails, no agent restarts', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `during-surge-${i}`);
    const before = await agentPod();
    const seen = new Set<string>();
    let most = 0;
    let rolling = true;
    const watching = (async () => {
      while (rolling) {
        const agents = (await agentPods()).filter((p) => !p.terminating);
        for (const p of agents) seen.add(p.name);
        most = Math.max(most, agents.length);
      }
    })();
    const upgraded = chart.upgrade({
      agent: {
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        podAnnotations: { 'multinet.test/roll': `surge-${Date.now()}` },
      },
    });
    await Promise.all(
      names.map((n) => kubectl('create', '-f', writeManifest(`${n}.yaml`, pod(n, 'macvlan-conf')))),
    );
    try {
      await upgraded;
    } finally {
      rolling = false;
      await watching;
    }
    // helm's wait ends once the new agent is ready; the old one may still be stopping.
    const after = await eventually(
      'the old agent pod to be gone',
      async () => {
        const pods = await agentPods();
        return pods.length === 1 ? pods : undefined;
      },
      120_000,
    );
    expect(after.map((p) => [p.name === before.replace(/^pod\//, ''), p.restarts])).toEqual([[false, 0]]);
    // The surge happened: the new agent ran beside the old one, and waited for its probe port.
    expect(most).toBe(2);
    expect(seen.size).toBeGreaterThanOrEqual(2);
    expect(await kubectl('-n', chart.namespace, 'logs', `pod/${after[0]!.name}`)).toContain(
      'waiting for the agent this one replaces to hand it over',
    );
    // The old agent's stop left the socket with the new one: pods created during and after get their networks.
    expect(existsSync(join(chart.socketDir, 'agent.sock'))).toBe(true);
    for (const n of names) {
      await kubectl('wait', '--for=condition=Ready', `pod/${n}`, '--timeout=180s');
      expect((await interfaces(n)).net1).toMatch(macvlanAddress);
    }
    await createAndWait('after-surge', 'macvlan-conf');
    expect((await interfaces('after-surge')).net1).toMatch(macvlanAddress);
    await kubectl('delete', 'pod', ...names, 'after-surge', '--wait=true');
  }, 600_000);

  it("helm uninstall: the node's config and shim are gone, and a new pod gets its default network in normal time", async () => {
    const uninstall = await chart.helm([
      'uninstall',
      chart.release,
      '--namespace',
      chart.namespace,
      '--wait',
      '--timeout',
      '2m',
    ]);
    expect(uninstall.code).toBe(0);
    await eventually(
      '00-multinet.conflist and the shim to be gone',
      () =>
        !existsSync(join(node.layout.cniConfDir, '00-multinet.conflist')) &&
        !existsSync(join(node.layout.cniBinDir, 'multinet-cni'))
          ? true
          : undefined,
      60_000,
    );
    timings.afterUninstall = await createAndWait('after-uninstall', undefined);
    expect(timings.afterUninstall).toBeLessThan(20_000);
    const ifs = await interfaces('after-uninstall');
    expect([ifs.eth0 && podAddress.test(ifs.eth0), ifs.net1]).toEqual([true, undefined]);
    await kubectl('delete', 'pod', 'after-uninstall', '--wait=true');
  }, 300_000);
});

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
