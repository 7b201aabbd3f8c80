/**
 * The anchor tier's check of test/fixtures/devices/multus-injection.json: the fixture's expected
 * delegate configs and capability arguments are what Multus' own code (pkg/types of the anchor's
 * source, LoadDelegateNetConf and CreateCNIRuntimeConf) gives for its inputs. The Go program
 * (bench/anchors/multus-injection/main.go) runs inside a fresh extraction of the Multus module.
 * agent/devices.test.ts checks that multinet builds the same.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { multusCommit } from './multus.ts';

const anchors = process.env.MULTINET_ANCHORS ?? join(repoRoot, '..', 'shared', 'anchors');
const tarball = join(anchors, `multus-cni-${multusCommit}.tar.gz`);
const fixture = join(repoRoot, 'test', 'fixtures', 'devices', 'multus-injection.json');

interface Case {
  readonly name: string;
  readonly multus: unknown;
}

describe("device injection: the fixture is Multus' behaviour", () => {
  it('matches what multus-cni pkg/types builds for every case', () => {
    const cases = (JSON.parse(readFileSync(fixture, 'utf8')) as { cases: Case[] }).cases;
    const dir = mkdtempSync(join(tmpdir(), 'multinet-multus-injection-'));
    try {
      const untar = spawnSync('tar', ['xzf', tarball, '-C', dir], { encoding: 'utf8' });
      if (untar.status !== 0) {
        throw new Error(
          `cannot extract ${tarball} (set MULTINET_ANCHORS to the dir holding it): ${untar.stderr}`,
        );
      }
      const module = join(dir, `multus-cni-${multusCommit}`);
      mkdirSync(join(module, 'cmd', 'multinet-injection'));
      cpSync(
        join(repoRoot, 'bench', 'anchors', 'multus-injection', 'main.go'),
        join(module, 'cmd', 'multinet-injection', 'main.go'),
      );
      const inputs = cases.map(({ multus: _expected, ...input }) => input);
      const run = spawnSync('go', ['run', './cmd/multinet-injection'], {
        cwd: module,
        input: JSON.stringify(inputs),
        encoding: 'utf8',
        env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      });
      if (run.error || run.status !== 0) {
        throw new Error(
          `running Multus' pkg/types failed (Go >= 1.24 needed): ${run.error?.message ?? run.stderr}`,
        );
      }
      const outputs = JSON.parse(run.stdout) as Array<{ name: string } & Record<string, unknown>>;
      expect(outputs.map(({ name, ...multus }) => ({ name, multus }))).toEqual(
        cases.map(({ name, multus }) => ({ name, multus })),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
