/**
 * `multinet dev node --nodes N` as a user runs it: N Ready nodes, pods on different nodes reaching each
 * other, and Ctrl-C leaving the host as it found it (processes, cgroups, mounts, network namespaces, links,
 * sysctls, fixed host dirs and the mountpoint dirs the nodes bind over, listed before and after); and a
 * cluster whose process was killed, cleaned up by the next start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevNode, type DevNodeRun } from '../node/dev-node-run.ts';
import { hostInventory, settledInventory } from '../node/inventory.ts';
import { requireNodeHost } from './support.ts';

beforeAll(requireNodeHost);

/** `multinet dev node --nodes N` without multinet, waiting for the other tiers' nodes to stop. */
function startDevNodes(nodes: number, kubeconfig: string): DevNodeRun {
  return startDevNode(
    ['--nodes', String(nodes), '--multinet', 'none', '--wait-for-other', '1800'],
    kubeconfig,
  );
}

describe('multinet dev node --nodes, as a user runs it', () => {
  it('brings up 2 Ready nodes whose pods reach each other, and Ctrl-C leaves the host as it found it', async () => {
    const before = hostInventory();
    const dir = mkdtempSync(join(tmpdir(), 'multinet-dev-nodes-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const cluster = startDevNodes(2, kubeconfig);
    try {
      await cluster.up();
      expect(cluster.kubectl('get', 'nodes').stdout).toMatch(/^node-1\s+Ready\s[\s\S]*^node-2\s+Ready\s/m);
      for (const n of [1, 2])
        cluster.runSleeper(`p${n}`, { spec: { nodeSelector: { 'kubernetes.io/hostname': `node-${n}` } } });
      const ip2 = cluster.kubectl('get', 'pod', 'p2', '-o', 'jsonpath={.status.podIP}').stdout;
      expect(ip2).toMatch(/^198\.51\.100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])$/);
      expect(cluster.kubectl('exec', 'p1', '--', 'ping', '-c', '1', '-W', '3', ip2).stdout).toMatch(
        /1 packets received/,
      );
    } finally {
      if (cluster.child.exitCode === null) cluster.child.kill('SIGINT');
      const code = await cluster.exited;
      rmSync(dir, { recursive: true, force: true });
      // On a failure the output shows why (what it printed is compared whole).
      const output = cluster.output();
      expect({
        code,
        stopped: output.includes('[dev node] stopped'),
        clean: !output.includes('did not stop cleanly'),
      }).toEqual(code === 0 ? { code: 0, stopped: true, clean: true } : { output });
    }
    expect(await settledInventory(before)).toEqual(before);
  }, 2_700_000);

  it('cleans up a cluster whose process was killed at the next start, its pods too', async () => {
    const before = hostInventory();
    const dir = mkdtempSync(join(tmpdir(), 'multinet-dev-nodes-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const killed = startDevNodes(2, kubeconfig);
    let next: DevNodeRun | undefined;
    try {
      await killed.up();
      killed.runSleeper('sleeper');
      killed.child.kill('SIGKILL'); // as a second Ctrl-C, or the OOM killer: no cleanup at all
      await killed.exited;
      expect(hostInventory().harnessNetns.length).toBeGreaterThan(0);
      next = startDevNodes(2, kubeconfig);
      await next.up();
      expect(next.output()).toContain(
        `cleaning up a local node whose process ${String(killed.child.pid)} is gone`,
      );
      expect(next.output()).not.toContain('could not put back');
    } finally {
      if (killed.child.exitCode === null && killed.child.signalCode === null) killed.child.kill('SIGKILL');
      if (next && next.child.exitCode === null) next.child.kill('SIGINT');
      const code = next ? await next.exited : 0;
      rmSync(dir, { recursive: true, force: true });
      const output = next?.output() ?? '';
      expect({ code, stopped: output.includes('[dev node] stopped') }).toEqual(
        code === 0 ? { code: 0, stopped: true } : { output },
      );
    }
    expect(await settledInventory(before)).toEqual(before);
  }, 2_700_000);
});
