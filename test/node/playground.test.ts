/**
 * `multinet up --nodes 1 --once` on the real node (what `npm start` runs where memory is short for two
 * nodes): the seed walkthrough with kubectl, exit 0. The default, on three nodes, is in the nodes tier.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { requireNodeHost } from './support.ts';

const multinet = join(repoRoot, 'bin', 'multinet');

beforeAll(requireNodeHost);

describe('multinet up on one real node', () => {
  it('multinet up --nodes 1 --once runs the seed walkthrough with kubectl and exits 0', () => {
    const run = spawnSync(multinet, ['up', '--nodes', '1', '--once', '--wait-for-other', '1800'], {
      encoding: 'utf8',
      timeout: 600_000,
    });
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
