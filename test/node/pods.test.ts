/**
 * Pods on the node through the container runtime, which calls the 00-multinet.conflist that multinet's
 * agent (here a host process of this checkout) generated: the seed's pods get eth0 and net1 (net2), with
 * network-status in the seed's shape; kubectl logs and exec work; deleting a pod frees its leases.
 */
import { readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { eventually } from '../../dev/eventually.ts';
import type { KubeNode } from '../../dev/node/kube-node.ts';
import { startMultinetOnNode, type MultinetOnNode } from '../../dev/node/multinet-on-node.ts';
import { seedNadForNode } from '../../playground/node-walkthrough.ts';
import { seedDir } from '../../playground/seed.ts';
import {
  expectSeedNetworkStatus,
  ipv4,
  leases,
  macvlanAddress,
  podAddress,
  requireNodeHost,
  startTestNode,
} from './support.ts';

beforeAll(requireNodeHost);

describe('pods on the node through the container runtime and multinet', () => {
  let node: KubeNode;
  let multinet: MultinetOnNode;
  const work = mkdtempSync(join(tmpdir(), 'multinet-node-pods-'));
  const kubectl = async (...args: string[]): Promise<string> => {
    const out = await node.kubectl(args);
    if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr}`);
    return out.stdout;
  };

  beforeAll(async () => {
    node = await startTestNode({ defaultNetwork: 'bridge' });
    multinet = await startMultinetOnNode(node);
    writeFileSync(join(work, 'macvlan-conf.yaml'), yaml.dump(await seedNadForNode(node)));
    await kubectl('apply', '-f', join(work, 'macvlan-conf.yaml'));
  }, 600_000);

  afterAll(async () => {
    await multinet?.stop();
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('kubectl get nodes shows localhost Ready, with containerd 2 as its runtime', async () => {
    const nodes = await kubectl('get', 'nodes', '-o', 'wide');
    expect(nodes).toMatch(/^localhost\s+Ready\s.*containerd:\/\/2\.\d+\.\d+/m);
  });

  it("the seed's samplepod gets eth0 and net1 through 00-multinet.conflist, with network-status in the seed's shape", async () => {
    await kubectl('create', '-f', join(seedDir, 'samplepod.yaml'));
    await kubectl('wait', '--for=condition=Ready', 'pod/samplepod', '--timeout=120s');
    const ipa = await kubectl('exec', 'samplepod', '--', 'ip', '-4', 'a');
    const eth0 = ipv4(ipa, 'eth0');
    const net1 = ipv4(ipa, 'net1');
    expect(eth0).toMatch(podAddress);
    expect(net1).toMatch(macvlanAddress);
    // containerd ran the generated config: libcni cached its result under that network's name.
    const cached = readdirSync('/var/lib/cni/results').filter((f) => f.startsWith('multinet-cni-network-'));
    expect(cached.length).toBeGreaterThan(0);
    await expectSeedNetworkStatus(node, 'podnet', eth0, net1);
  }, 180_000);

  it('kubectl logs and exec work', async () => {
    await kubectl(
      'run',
      'talker',
      '--image=alpine',
      '--restart=Never',
      '--',
      '/bin/ash',
      '-c',
      'echo hello from the node; sleep 3600',
    );
    await kubectl('wait', '--for=condition=Ready', 'pod/talker', '--timeout=120s');
    expect(
      await eventually('the log line', async () =>
        (await kubectl('logs', 'talker')).includes('hello from the node') ? true : undefined,
      ),
    ).toBe(true);
    expect((await kubectl('exec', 'talker', '--', 'cat', '/etc/hostname')).trim()).toBe('talker');
    await kubectl('delete', 'pod', 'talker', '--grace-period=0', '--wait=true');
  }, 180_000);

  it('deleting the pod runs DEL: its leases are freed and the agent holds nothing for it', async () => {
    const macvlanLeases = '/var/lib/cni/networks/macvlan-conf';
    const podnetLeases = join(node.layout.ipamDir, 'podnet');
    expect(leases(macvlanLeases)).toHaveLength(1);
    await kubectl('delete', 'pod', 'samplepod', '--wait=true');
    await eventually(
      'the leases to be freed',
      () => (leases(macvlanLeases).length === 0 && leases(podnetLeases).length === 0 ? true : undefined),
      60_000,
    );
    expect(readdirSync(join(multinet.stateDir, 'attachments'))).toEqual([]);
  }, 120_000);

  it('the two-macvlan pod gets net1 and net2 from the same NAD', async () => {
    await kubectl('create', '-f', join(seedDir, 'samplepod-two-macvlan.yaml'));
    await kubectl('wait', '--for=condition=Ready', 'pod/samplepod', '--timeout=120s');
    const ipa = await kubectl('exec', 'samplepod', '--', 'ip', '-4', 'a');
    expect(ipv4(ipa, 'net1')).toMatch(macvlanAddress);
    expect(ipv4(ipa, 'net2')).toMatch(macvlanAddress);
    expect(ipv4(ipa, 'net1')).not.toBe(ipv4(ipa, 'net2'));
    await kubectl('delete', 'pod', 'samplepod', '--wait=true');
  }, 180_000);
});
