/**
 * The `node` tier: a real kubelet, containerd and runc on this machine (dev/node), pods created with
 * kubectl, the container runtime calling the 00-multinet.conflist that multinet's agent generated.
 * One local node can run on a machine at a time, so this file runs its parts in order: the CLI as a user
 * runs it (and Ctrl-C leaving the host as it found it), then pods on a node started for the tests, then
 * `npm start`'s walkthrough.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { eventually } from '../../lib/eventually.ts';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { startKubeNode, type KubeNode } from '../../dev/node/kube-node.ts';
import { defaultShim, startMultinetOnNode, type MultinetOnNode } from '../../dev/node/multinet-on-node.ts';
import { podNetwork } from '../../dev/node/node-config.ts';
import { checkNodeHost } from '../../dev/node/prerequisites.ts';
import { listenTcp } from '../../platform/nodejs/listen.ts';
import { repoRoot } from '../../dev/repo-root.ts';
import { seedNadForNode } from '../../playground/node-walkthrough.ts';
import { seedDir, seedMacvlanConfig, type SeedNad } from '../../playground/seed.ts';
import { readFixture } from '../fixtures.ts';
import { hostInventory, settledInventory } from './inventory.ts';

const cacheDir = defaultCacheDir(process.env, homedir());
const multinet = join(repoRoot, 'bin', 'multinet');
const kubectlBin = join(cacheDir, 'bin', 'kubectl');
const leaseFile = /^\d+\.\d+\.\d+\.\d+$/;

beforeAll(async () => {
  const check = await checkNodeHost({ uid: process.getuid?.(), path: process.env.PATH });
  if (!check.ok)
    throw new Error(
      `the node tier cannot run on this machine; missing:\n  - ${check.missing.join('\n  - ')}`,
    );
});

/** Addresses host-local holds in a lease dir (but the one reserved for the node's API gateway). */
function leases(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir).filter((f) => leaseFile.test(f) && f !== podNetwork.apiGateway.host)
    : [];
}

function ipv4(text: string, ifname: string): string | undefined {
  const block = new RegExp(`^\\d+: ${ifname}[@:][\\s\\S]*?inet (\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+)`, 'm').exec(
    text,
  );
  return block?.[1];
}

describe('multinet dev node, as a user runs it', () => {
  it('brings up a Ready node with multinet, runs the seed pod with eth0 and net1, and Ctrl-C leaves the host as it found it', async () => {
    const before = hostInventory();
    expect(before.processes).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'multinet-dev-node-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const child = spawn(
      multinet,
      ['dev', 'node', '--multinet', 'host', '--default-network', 'bridge', '--kubeconfig-out', kubeconfig],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const kubectl = (...args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', timeout: 120_000 });
    try {
      await eventually(
        'the node to be up',
        () =>
          output.includes('press Ctrl-C')
            ? true
            : child.exitCode !== null
              ? Promise.reject(new Error(output))
              : undefined,
        {
          timeoutMs: 480_000,
        },
      );
      expect(existsSync(kubeconfig)).toBe(true);
      expect(kubectl('get', 'nodes').stdout).toMatch(/^localhost\s+Ready\s/m);
      const master = /macvlan master for NADs: (\S+);/.exec(output)?.[1];
      expect(master).toMatch(/^mn[0-9a-f]{6}m0$/);
      const nad = yaml.load(readFileSync(join(seedDir, 'macvlan-conf.nad.yaml'), 'utf8')) as SeedNad;
      nad.spec.config = JSON.stringify(seedMacvlanConfig(nad, master!));
      writeFileSync(join(dir, 'nad.yaml'), yaml.dump(nad));
      expect(kubectl('apply', '-f', join(dir, 'nad.yaml')).status).toBe(0);
      expect(kubectl('create', '-f', join(seedDir, 'samplepod.yaml')).status).toBe(0);
      const wait = kubectl('wait', '--for=condition=Ready', 'pod/samplepod', '--timeout=120s');
      expect(wait.stderr).toBe('');
      const ipa = String(kubectl('exec', 'samplepod', '--', 'ip', '-4', 'a').stdout);
      expect(ipv4(ipa, 'eth0')).toMatch(/^198\.51\.100\.([2-9]|[1-9]\d|1[01]\d|12[0-5])\/25$/);
      expect(ipv4(ipa, 'net1')).toMatch(/^192\.0\.2\.2(0\d|1[0-6])\/24$/);
    } finally {
      if (child.exitCode === null) child.kill('SIGINT');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      expect([code, output.includes('stopped')]).toEqual([0, true]);
    }
    expect(await settledInventory(before)).toEqual(before);
  }, 600_000);
});

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
    node = await startKubeNode({
      cacheDir,
      env: process.env,
      uid: process.getuid?.(),
      pid: process.pid,
      kill: (pid, signal) => process.kill(pid, signal),
      listen: (server) => listenTcp(server, '127.0.0.1', 0),
    });
    multinet = await startMultinetOnNode(node, { shim: defaultShim });
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
    expect(eth0).toMatch(/^198\.51\.100\.([2-9]|[1-9]\d|1[01]\d|12[0-5])\/25$/);
    expect(net1).toMatch(/^192\.0\.2\.2(0\d|1[0-6])\/24$/);
    // containerd ran the generated config: libcni cached its result under that network's name.
    const cached = readdirSync('/var/lib/cni/results').filter((f) => f.startsWith('multinet-cni-network-'));
    expect(cached.length).toBeGreaterThan(0);
    const annotation = await kubectl(
      'get',
      'pod',
      'samplepod',
      '-o',
      `jsonpath={.metadata.annotations.${networkStatusAnnotation.replace(/\./g, '\\.')}}`,
    );
    const status = JSON.parse(annotation) as Array<Record<string, unknown>>;
    const reference = JSON.parse(readFixture('seed', 'network-status.reference.json')) as Array<
      Record<string, unknown>
    >;
    expect(status).toHaveLength(2);
    expect(status[0]).toMatchObject({
      name: 'podnet',
      interface: 'eth0',
      ips: [eth0!.split('/')[0]],
      default: true,
      dns: {},
    });
    expect(status[1]).toMatchObject({
      name: 'default/macvlan-conf',
      interface: 'net1',
      ips: [net1!.split('/')[0]],
      dns: {},
    });
    expect(Object.keys(status[1]!)).toEqual(expect.arrayContaining(Object.keys(reference[1]!)));
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
    expect(ipv4(ipa, 'net1')).toMatch(/^192\.0\.2\.2(0\d|1[0-6])\/24$/);
    expect(ipv4(ipa, 'net2')).toMatch(/^192\.0\.2\.2(0\d|1[0-6])\/24$/);
    expect(ipv4(ipa, 'net1')).not.toBe(ipv4(ipa, 'net2'));
    await kubectl('delete', 'pod', 'samplepod', '--wait=true');
  }, 180_000);
});

describe('npm start on the real node', () => {
  it('multinet up --once runs the seed walkthrough with kubectl and exits 0', () => {
    const run = spawnSync(multinet, ['up', '--once'], { encoding: 'utf8', timeout: 600_000 });
    expect(run.stdout).not.toContain('✗');
    expect(run.stdout).not.toContain('stand-in');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\$ kubectl create -f \S+samplepod\.yaml/);
    expect(run.stdout).toMatch(/macvlan-conf\s+True\s+macvlan\s+1\/1/);
    expect(run.stdout).toMatch(/denied the request: spec\.config\.ipam\.rangeEnd/);
    expect(run.stdout).toMatch(/net1@\S+[\s\S]*?inet 192\.0\.2\.2(0\d|1[0-6])\/24/);
    expect(run.stdout).toContain('"name": "default/macvlan-conf"');
  }, 660_000);
});
