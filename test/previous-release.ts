/**
 * The previous multinet release, rebuilt from git history for version-skew tests: its CNI shim (cni/ of
 * that commit, built with Go as scripts/build-shim.sh builds it) and its whole checkout (to run its agent
 * with bin/multinet, on this checkout's node_modules). No release is tagged yet: the previous release is
 * main as it was before the shim and the agent named their versions to each other (issue 25).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../dev/repo-root.ts';

/** main before version headers (2026-12-06): the shim sends no version, the agent names none. */
export const previousReleaseCommit = 'd701eea';

function extract(commit: string, paths: readonly string[], into: string): void {
  mkdirSync(into, { recursive: true });
  try {
    execFileSync('git', ['-C', repoRoot, 'cat-file', '-e', `${commit}^{commit}`], { stdio: 'pipe' });
  } catch {
    throw new Error(
      `commit ${commit} (the previous release) is not in ${repoRoot}'s git history: fetch the full history (git fetch --unshallow)`,
    );
  }
  const archive = join(into, '.release.tar');
  execFileSync('git', ['-C', repoRoot, 'archive', '--format=tar', '-o', archive, commit, ...paths]);
  execFileSync('tar', ['-xf', archive, '-C', into]);
  execFileSync('rm', ['-f', archive]);
}

/** The previous release's shim, built into dir (Go, static, as its scripts/build-shim.sh did). */
export function buildPreviousShim(dir: string, commit = previousReleaseCommit): string {
  const src = join(dir, 'shim-src');
  extract(commit, ['cni'], src);
  const out = join(dir, 'multinet-cni-previous');
  const build = spawnSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', out, '.'], {
    cwd: join(src, 'cni'),
    env: { ...process.env, CGO_ENABLED: '0' },
    encoding: 'utf8',
  });
  if (build.error || build.status !== 0) {
    throw new Error(
      `building the shim of ${commit} failed (is Go installed? apt-get install golang-go): ${build.error?.message ?? ''}${build.stderr}`,
    );
  }
  return out;
}

/**
 * The previous release's checkout in dir, ready to run (its bin/multinet on this checkout's node_modules,
 * its schema validators generated); returns the path of its bin/multinet.
 */
export function previousCheckout(dir: string, commit = previousReleaseCommit): string {
  const root = join(dir, 'checkout');
  extract(commit, [], root);
  if (!existsSync(join(root, 'node_modules')))
    symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  const node = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
  const generate = spawnSync(node, [join(root, 'scripts', 'generate-validators.ts')], {
    cwd: root,
    encoding: 'utf8',
  });
  if (generate.status !== 0) {
    throw new Error(`generating the validators of ${commit} failed: ${generate.stderr}${generate.stdout}`);
  }
  return join(root, 'bin', 'multinet');
}

/** This checkout's shim built as another release would be: `version` and wire `protocol` set at link time. */
export function buildShimAs(dir: string, version: string, protocol: number): string {
  const out = join(dir, `multinet-cni-${version}-p${protocol}`);
  const build = spawnSync(
    'go',
    [
      'build',
      '-trimpath',
      `-ldflags=-s -w -X main.version=${version} -X main.protocol=${protocol}`,
      '-o',
      out,
      '.',
    ],
    { cwd: join(repoRoot, 'cni'), env: { ...process.env, CGO_ENABLED: '0' }, encoding: 'utf8' },
  );
  if (build.error || build.status !== 0)
    throw new Error(`building the shim as ${version} failed: ${build.error?.message ?? ''}${build.stderr}`);
  return out;
}
