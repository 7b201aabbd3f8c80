/**
 * `multinet dev node` as a user runs it: a Ready node with multinet, the seed's pod with eth0 and net1
 * through the container runtime, and Ctrl-C leaving the host as it found it (processes, cgroups, mounts,
 * netns, links, sysctls and the fixed host dirs, listed before and after).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { eventually } from '../../lib/eventually.ts';
import { repoRoot } from '../../dev/repo-root.ts';
import { seedDir, seedMacvlanConfig, type SeedNad } from '../../playground/seed.ts';
import { hostInventory, settledInventory } from './inventory.ts';
import { cacheDir, ipv4, macvlanAddress, podAddress, requireNodeHost } from './support.ts';

const multinet = join(repoRoot, 'bin', 'multinet');
const kubectlBin = join(cacheDir, 'bin', 'kubectl');

beforeAll(requireNodeHost);

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
      expect(ipv4(ipa, 'eth0')).toMatch(podAddress);
      expect(ipv4(ipa, 'net1')).toMatch(macvlanAddress);
    } finally {
      if (child.exitCode === null) child.kill('SIGINT');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      expect([code, output.includes('stopped')]).toEqual([0, true]);
    }
    expect(await settledInventory(before)).toEqual(before);
  }, 600_000);
});
