/**
 * The anchors tier: Flannel's CNI plugin (built from ../shared/anchors, its module is not on the proxy) as
 * the real node's default network, reading a subnet.env on the host as flanneld writes it, with multinet
 * installed by helm: the agent generates 00-multinet.conflist from Flannel's config, and the seed's
 * samplepod gets eth0 from Flannel (through the host's files: the agent runs it in the host's mount
 * namespace) and net1 from the seed's macvlan. Fails, naming what is missing, where the anchors are not.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeNode } from '../../dev/node/kube-node.ts';
import { installChartOnNode } from '../../dev/node/multinet-chart.ts';
import { podNetwork } from '../../dev/node/node-config.ts';
import { seedNadForNode } from '../../playground/node-walkthrough.ts';
import { seedDir } from '../../playground/seed.ts';
import {
  expectSeedNetworkStatus,
  ipv4,
  macvlanAddress,
  podAddress,
  requireNodeHost,
  startTestNode,
} from '../node/support.ts';

let node: KubeNode;
const work = mkdtempSync(join(tmpdir(), 'multinet-anchors-flannel-'));

async function kubectl(...args: string[]): Promise<string> {
  const out = await node.kubectl(args);
  if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim() || out.stdout.trim()}`);
  return out.stdout;
}

beforeAll(async () => {
  await requireNodeHost();
  node = await startTestNode({ defaultNetwork: 'flannel', extraImages: ['multinet'] });
  await installChartOnNode(node);
  const nadFile = join(work, 'macvlan-conf.yaml');
  writeFileSync(nadFile, yaml.dump(await seedNadForNode(node)));
  await kubectl('apply', '-f', nadFile);
}, 1_200_000);

afterAll(async () => {
  await node?.stop();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('Flannel as the real node’s default network, multinet installed by helm', () => {
  it("generates 00-multinet.conflist from the node's Flannel network", () => {
    const generated = JSON.parse(
      readFileSync(join(node.layout.cniConfDir, '00-multinet.conflist'), 'utf8'),
    ) as {
      plugins: Array<{ type: string; defaultNetwork: { file: string } }>;
    };
    expect(generated.plugins[0]!.type).toBe('multinet-cni');
    const flannel = JSON.parse(readFileSync(generated.plugins[0]!.defaultNetwork.file, 'utf8')) as {
      plugins: Array<{ type: string; subnetFile: string }>;
    };
    expect(flannel.plugins[0]).toMatchObject({ type: 'flannel', subnetFile: node.layout.flannelSubnetFile });
  });

  it("runs the seed's samplepod with eth0 from Flannel and net1, network-status in the seed's shape", async () => {
    await kubectl('create', '-f', join(seedDir, 'samplepod.yaml'));
    await kubectl('wait', '--for=condition=Ready', 'pod/samplepod', '--timeout=180s');
    const ipa = await kubectl('exec', 'samplepod', '--', 'ip', 'a');
    const eth0 = ipv4(ipa, 'eth0');
    const net1 = ipv4(ipa, 'net1');
    expect(eth0).toMatch(podAddress);
    expect(net1).toMatch(macvlanAddress);
    await expectSeedNetworkStatus(node, podNetwork.name, eth0, net1);
    await kubectl('delete', 'pod', 'samplepod', '--wait=true');
  }, 300_000);
});
