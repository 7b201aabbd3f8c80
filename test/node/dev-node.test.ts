/**
 * `multinet dev node` as a user runs it: a Ready node with multinet, the seed's pod with eth0 and net1
 * through the container runtime, and Ctrl-C leaving the host as it found it (processes, cgroups, mounts,
 * netns, links, sysctls and the fixed host dirs, listed before and after); and a node whose process was
 * killed, cleaned up by the next start.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { seedDir, seedMacvlanConfig, type SeedNad } from '../../playground/seed.ts';
import { processEnded } from '../../platform/nodejs/orphans.ts';
import { startDevNode, type DevNodeRun } from './dev-node-run.ts';
import { hostInventory, settledInventory } from './inventory.ts';
import { ipv4, macvlanAddress, podAddress, requireNodeHost } from './support.ts';

beforeAll(requireNodeHost);

/** The pods' network namespaces containerd pinned in /run/netns. */
function podNetns(): string[] {
  return hostInventory().netns;
}

describe('multinet dev node, as a user runs it', () => {
  it('brings up a Ready node with multinet, runs the seed pod with eth0 and net1, and Ctrl-C leaves the host as it found it', async () => {
    const before = hostInventory();
    expect(before.processes).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'multinet-dev-node-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const node = startDevNode(['--multinet', 'host', '--default-network', 'bridge'], kubeconfig);
    const { kubectl } = node;
    try {
      await node.up();
      expect(existsSync(kubeconfig)).toBe(true);
      expect(kubectl('get', 'nodes').stdout).toMatch(/^localhost\s+Ready\s/m);
      const master = /macvlan master for NADs: (\S+);/.exec(node.output())?.[1];
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
      if (node.child.exitCode === null) node.child.kill('SIGINT');
      const code = await node.exited;
      rmSync(dir, { recursive: true, force: true });
      expect([code, node.output().includes('stopped')]).toEqual([0, true]);
    }
    expect(await settledInventory(before)).toEqual(before);
  }, 600_000);

  it("a node whose process was killed is cleaned up by the next start, its pods' network namespaces too", async () => {
    const before = hostInventory();
    expect(before.processes).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'multinet-dev-node-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const killed = startDevNode(['--multinet', 'none', '--default-network', 'bridge'], kubeconfig);
    let next: DevNodeRun | undefined;
    let stoppedApiServers: number[] = [];
    try {
      await killed.up();
      killed.runSleeper('sleeper');
      const left = podNetns().filter((n) => !before.netns.includes(n));
      expect(left).toHaveLength(1);
      // Its API server gets SIGTERM when the node dies, but its shutdown can hang with etcd gone: stopped
      // here, it is certainly still there when the next start cleans up, which must end it.
      stoppedApiServers = hostInventory()
        .processes.filter((p) => p.includes('/kube-apiserver '))
        .map((p) => Number(p.split(' ')[0]));
      expect(stoppedApiServers).toHaveLength(1);
      process.kill(stoppedApiServers[0]!, 'SIGSTOP');
      // As a second Ctrl-C (or the OOM killer) ends it: no cleanup at all.
      killed.child.kill('SIGKILL');
      await killed.exited;
      expect(podNetns()).toContain(left[0]);

      next = startDevNode(['--multinet', 'none', '--default-network', 'bridge'], kubeconfig);
      await next.up();
      expect(next.output()).toContain(
        `cleaning up a local node whose process ${String(killed.child.pid)} is gone`,
      );
      expect(next.output()).not.toContain('could not put back');
      expect(podNetns()).not.toContain(left[0]);
      expect(stoppedApiServers.filter((pid) => !processEnded(pid))).toEqual([]);
    } finally {
      if (killed.child.exitCode === null && killed.child.signalCode === null) killed.child.kill('SIGKILL');
      for (const pid of stoppedApiServers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // ended by the next start's cleanup, as it should be
        }
      }
      if (next && next.child.exitCode === null) next.child.kill('SIGINT');
      const code = next ? await next.exited : 0;
      rmSync(dir, { recursive: true, force: true });
      expect([code, next?.output().includes('stopped') ?? false]).toEqual([0, true]);
    }
    expect(await settledInventory(before)).toEqual(before);
  }, 900_000);
});
