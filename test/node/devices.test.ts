/**
 * Device networks on the real node: the node's stand-in VFs (dev/node/vfs.ts) advertised as
 * multinet.dev/vf by the test device plugin, a NAD annotated with that resource, pods that select it
 * twice without requesting anything (the webhook's resource injector is on), the kubelet's allocation
 * read by the agent from the pod-resources API, the "vf" plugin moving the allocated links into the
 * pods, device-info in network-status, the scheduler refusing a pod once the VFs are taken, and DEL
 * returning the links, also after an agent restart between ADD and DEL.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import yaml from 'js-yaml';
import { eventually } from '../../dev/eventually.ts';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import type { KubeNode } from '../../dev/node/kube-node.ts';
import { startMultinetOnNode, type MultinetOnNode } from '../../dev/node/multinet-on-node.ts';
import { linkAddress } from '../../dev/node/vfs.ts';
import { requireNodeHost, startTestNode } from './support.ts';

beforeAll(requireNodeHost);

const vf = 'multinet.dev/vf';

interface StatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly ips?: string[];
  readonly mac?: string;
  readonly 'device-info'?: { type: string; version: string; pci?: Record<string, string> };
}

describe('device networks on the node: stand-in VFs, the pod-resources API and the resource injector', () => {
  let node: KubeNode;
  let multinet: MultinetOnNode;
  const work = mkdtempSync(join(tmpdir(), 'multinet-node-devices-'));
  /** The stand-in VFs' MAC addresses, by link name, as the node made them. */
  const macs = new Map<string, string>();
  const kubectl = async (...args: string[]): Promise<string> => {
    const out = await node.kubectl(args);
    if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr}`);
    return out.stdout;
  };
  const apply = async (object: unknown): Promise<void> => {
    const file = join(work, `${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml.dump(object));
    await kubectl('apply', '-f', file);
  };
  const vfPod = (name: string): unknown => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations: { 'k8s.v1.cni.cncf.io/networks': 'vf-net,vf-net' } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'main', image: 'alpine', command: ['/bin/sleep', '3600'] }],
    },
  });
  const networkStatus = async (pod: string): Promise<StatusEntry[]> => {
    const key = networkStatusAnnotation.replace(/\./g, '\\.');
    return JSON.parse(
      await kubectl('get', 'pod', pod, '-o', `jsonpath={.metadata.annotations.${key}}`),
    ) as StatusEntry[];
  };
  /** The MAC of each of the pod's interfaces, from inside it. */
  const podMacs = async (pod: string): Promise<Map<string, string>> => {
    const out = await kubectl('exec', pod, '--', 'ip', '-o', 'link');
    const found = new Map<string, string>();
    for (const match of out.matchAll(/^\d+: ([\w.-]+)(?:@\S+)?: .*? link\/ether ([0-9a-f:]{17})/gm))
      found.set(match[1]!, match[2]!);
    return found;
  };
  /** The device plugin's device-info files: PCI address -> device ID (link name). */
  const devicesByPciAddress = (): Map<string, string> => {
    const dir = join(node.vfs.deviceInfoDir, 'dp');
    const out = new Map<string, string>();
    for (const file of readdirSync(dir)) {
      const info = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { pci: { 'pci-address': string } };
      out.set(info.pci['pci-address'], file.replace(/^multinet\.dev-vf-/, '').replace(/-device\.json$/, ''));
    }
    return out;
  };
  /** The VF links a pod holds as net1 and net2 (by their MACs), checked against its network-status. */
  const podVfs = async (pod: string): Promise<string[]> => {
    const inside = await podMacs(pod);
    const status = await networkStatus(pod);
    const byPci = devicesByPciAddress();
    const links: string[] = [];
    for (const ifName of ['net1', 'net2']) {
      const mac = inside.get(ifName);
      const link = [...macs].find(([, m]) => m === mac)?.[0];
      expect(link).toBeDefined();
      const entry = status.find((s) => s.interface === ifName);
      expect(entry).toMatchObject({
        name: 'default/vf-net',
        mac,
        ips: [expect.stringMatching(/^203\.0\.113\./)],
      });
      expect(entry!['device-info']).toMatchObject({ type: 'pci', version: '1.1.0' });
      // The device-info names the very device whose link is in the pod.
      expect(byPci.get(entry!['device-info']!.pci!['pci-address']!)).toBe(link);
      links.push(link!);
    }
    return links;
  };
  const onNode = async (): Promise<string[]> => {
    const here: string[] = [];
    for (const link of node.vfs.links) if ((await linkAddress(link)) === macs.get(link)) here.push(link);
    return here;
  };

  beforeAll(async () => {
    node = await startTestNode({ defaultNetwork: 'bridge', vfs: 4 });
    for (const link of node.vfs.links) macs.set(link, (await linkAddress(link))!);
    multinet = await startMultinetOnNode(node);
    const nad = (name: string, resource: string, config: object): unknown => ({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name, annotations: { 'k8s.v1.cni.cncf.io/resourceName': resource } },
      spec: { config: JSON.stringify(config) },
    });
    await apply(
      nad('vf-net', vf, {
        cniVersion: '1.0.0',
        type: 'vf',
        capabilities: { deviceID: true, CNIDeviceInfoFile: true },
        ipam: { type: 'host-local', subnet: '203.0.113.0/24', dataDir: join(work, 'ipam') },
      }),
    );
    await apply(nad('nowhere-net', 'example.com/none', { cniVersion: '1.0.0', type: 'vf' }));
  }, 900_000);

  afterAll(async () => {
    await multinet?.stop();
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it(`the node advertises its ${vf} devices, and the controller and the agent say so`, async () => {
    const allocatable = JSON.parse(
      await kubectl('get', 'node', node.nodeName, '-o', 'jsonpath={.status.allocatable}'),
    ) as Record<string, string>;
    expect(allocatable[vf]).toBe('4');
    const condition = async (name: string, type: string): Promise<string> =>
      kubectl(
        'get',
        'net-attach-def',
        name,
        '-o',
        `jsonpath={.status.conditions[?(@.type=="${type}")].status} {.status.conditions[?(@.type=="${type}")].reason}`,
      );
    await eventually(
      'vf-net Ready',
      async () => ((await condition('vf-net', 'Ready')) === 'True Ready' ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    await eventually(
      'nowhere-net Degraded',
      async () =>
        (await condition('nowhere-net', 'Degraded')) === 'True ResourceNotAdvertised' ? true : undefined,
      { timeoutMs: 60_000 },
    );
    await eventually(
      "the NodeNetworkState's resource counts",
      async () => {
        const state = JSON.parse(await kubectl('get', 'nns', node.nodeName, '-o', 'json')) as {
          status?: { resources?: unknown };
        };
        const resources = state.status?.resources;
        // The API server hands custom resources back with their keys sorted: compare values, not text.
        return isDeepStrictEqual(resources, [
          { name: 'example.com/none', allocatable: 0 },
          { name: vf, allocatable: 4 },
        ])
          ? true
          : undefined;
      },
      { timeoutMs: 60_000 },
    );
  }, 180_000);

  let first: string[];

  it('a pod that selects the VF network twice, requesting nothing, gets two distinct VFs as net1 and net2', async () => {
    await apply(vfPod('vf-a'));
    await kubectl('wait', '--for=condition=Ready', 'pod/vf-a', '--timeout=120s');
    // The injector added the resource: two networks of it.
    const limits = JSON.parse(
      await kubectl('get', 'pod', 'vf-a', '-o', 'jsonpath={.spec.containers[0].resources.limits}'),
    ) as Record<string, string>;
    expect(limits).toEqual({ [vf]: '2' });
    first = await podVfs('vf-a');
    expect(new Set(first).size).toBe(2);
    expect(await onNode()).toEqual(node.vfs.links.filter((l) => !first.includes(l)));
  }, 180_000);

  it(`once the VFs are all taken, the next such pod stays Pending: "Insufficient ${vf}"`, async () => {
    await apply(vfPod('vf-b'));
    await kubectl('wait', '--for=condition=Ready', 'pod/vf-b', '--timeout=120s');
    const second = await podVfs('vf-b');
    expect([...first, ...second].sort()).toEqual([...node.vfs.links].sort());
    expect(await onNode()).toEqual([]);
    await apply(vfPod('vf-c'));
    const message = await eventually(
      'the scheduler to refuse vf-c',
      async () => {
        const events = await kubectl(
          'get',
          'events',
          '--field-selector',
          'involvedObject.name=vf-c,reason=FailedScheduling',
          '-o',
          'jsonpath={.items[*].message}',
        );
        return events.includes(`Insufficient ${vf}`) ? events : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(message).toContain(`Insufficient ${vf}`);
    expect(await kubectl('get', 'pod', 'vf-c', '-o', 'jsonpath={.status.phase}')).toBe('Pending');
  }, 240_000);

  it("an agent restarted between ADD and DEL returns the pod's VFs to the node, and the waiting pod gets them", async () => {
    await multinet.restartAgent();
    await kubectl('delete', 'pod', 'vf-a', '--wait=true', '--timeout=120s');
    await eventually(
      'the VFs of vf-a back on the node',
      async () => {
        const here = await onNode();
        return first.every((l) => here.includes(l)) ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await kubectl('wait', '--for=condition=Ready', 'pod/vf-c', '--timeout=180s');
    expect((await podVfs('vf-c')).sort()).toEqual([...first].sort());
  }, 360_000);

  it('deleting the pods returns every VF and leaves no device-info file of theirs', async () => {
    await kubectl('delete', 'pod', 'vf-b', 'vf-c', '--wait=true', '--timeout=120s');
    await eventually(
      'every VF back on the node',
      async () => ((await onNode()).length === node.vfs.links.length ? true : undefined),
      { timeoutMs: 60_000 },
    );
    expect(readdirSync(join(node.vfs.deviceInfoDir, 'cni'))).toEqual([]);
  }, 240_000);
});
