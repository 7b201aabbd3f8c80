/**
 * The playground as a user runs it: `multinet up --once` (exit 0, the walkthrough's findings printed)
 * and `multinet up --kubeconfig-out FILE` (the kubeconfig appears when everything is ready, kubectl
 * works with it, and Ctrl-C leaves no process, network namespace, link or temp dir behind).
 * Each run starts its own control plane; root is needed for the network namespaces.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../dev/binaries.ts';
import { eventually } from '../dev/eventually.ts';
import { repoRoot, requireNetnsPrerequisites } from '../dev/netns/local-node.ts';

requireNetnsPrerequisites();

const multinet = join(repoRoot, 'bin', 'multinet');
// The playground's temp dirs (control plane, lab, logs) go here: other tiers running at the same time
// (the node tier's playground) make dirs of the same names in the shared tmp dir.
const upTmp = mkdtempSync(join(tmpdir(), 'multinet-up-tmp-'));
const upEnv = { ...process.env, TMPDIR: upTmp };
afterAll(() => rmSync(upTmp, { recursive: true, force: true }));
const kubectl = join(defaultCacheDir(process.env, homedir()), 'bin', 'kubectl');

/** What the playground may leave behind: its netns and links, anything in its temp dir. */
function footprint(): { netns: string[]; links: string[]; dirs: string[] } {
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('mnpla'));
  const links = spawnSync('ip', ['-br', 'link'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('mnpla'));
  const dirs = readdirSync(upTmp);
  return { netns, links, dirs };
}

/** The kernel tears a deleted namespace's links down asynchronously: allow it a few seconds. */
async function settledFootprint(): Promise<ReturnType<typeof footprint>> {
  const empty = (f: ReturnType<typeof footprint>): boolean =>
    f.netns.length + f.links.length + f.dirs.length === 0;
  return eventually('the playground to leave nothing behind', () => empty(footprint()), 10_000).then(
    () => footprint(),
    () => footprint(),
  );
}

describe('multinet up', () => {
  it('--once runs the seed walkthrough, prints its findings and exits 0', async () => {
    const run = spawnSync(multinet, ['up', '--once', '--netns'], {
      encoding: 'utf8',
      timeout: 240_000,
      env: upEnv,
    });
    expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(run.stdout).not.toContain('✗');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Ready=True');
    expect(run.stdout).toMatch(
      /rejected: admission webhook "nads\.multinet\.io" denied the request: spec\.config\.ipam\.rangeEnd/,
    );
    expect(run.stdout).toMatch(/net1\s+192\.0\.2\.2(0\d|1[0-6])\/24/);
    expect(run.stdout).toContain('"name": "default/macvlan-conf"');
    expect(await settledFootprint()).toEqual({ netns: [], links: [], dirs: [] });
  }, 300_000);

  it('--kubeconfig-out writes a working kubeconfig and Ctrl-C cleans everything up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'multinet-up-test-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const child = spawn(multinet, ['up', '--netns', '--kubeconfig-out', kubeconfig], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: upEnv,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const up = await eventually(
        'the playground to come up',
        () => output.includes('press Ctrl-C') || (child.exitCode !== null && 'exited'),
        240_000,
      ).catch(() => 'timed out');
      if (up !== true) throw new Error(`the playground did not come up (${up}):\n${output}`);
      expect(existsSync(kubeconfig)).toBe(true);
      const get = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'get', 'net-attach-def', '-o', 'wide'], {
        encoding: 'utf8',
      });
      expect(get.stderr).toBe('');
      expect(get.stdout).toMatch(/macvlan-conf\s+True\s+macvlan\s+1\/1/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await settledFootprint()).toEqual({ netns: [], links: [], dirs: [] });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
