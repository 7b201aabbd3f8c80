/**
 * `npm start` as a user runs it where memory allows three nodes: `multinet up --once` starts three real
 * nodes, installs multinet with helm, runs the seed walkthrough across two of them (a samplepod on each,
 * one pinging the other over net1) and exits 0, leaving no node behind.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { requireNodeHost } from './support.ts';

const multinet = join(repoRoot, 'bin', 'multinet');

beforeAll(requireNodeHost);

describe('npm start on three real nodes', () => {
  it('multinet up --once runs the seed walkthrough across nodes and exits 0', () => {
    const run = spawnSync(multinet, ['up', '--nodes', '3', '--once', '--wait-for-other', '1800'], {
      encoding: 'utf8',
      timeout: 900_000,
    });
    expect(run.stdout).not.toContain('✗');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/3 nodes Ready/);
    expect(run.stdout).toMatch(/macvlan-conf\s+True\s+macvlan\s+3\/3/);
    const samplepods =
      /samplepod\s+1\/1\s+Running.*?(node-\d)[\s\S]*?samplepod-2\s+1\/1\s+Running.*?(node-\d)/.exec(
        run.stdout,
      );
    expect(samplepods).not.toBeNull();
    expect(samplepods![1]).not.toBe(samplepods![2]);
    expect(run.stdout).toMatch(/3 packets transmitted, 3 (packets )?received/);
    expect(run.stdout).toMatch(/✓ delete the samplepods/);
    expect(run.stdout).toMatch(/cleaning up/);
  }, 960_000);
});
