/** The Go CNI shim of this checkout, built from cni/ on first use (scripts/build-shim.sh skips an unchanged build). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo-root.ts';

export const builtShim: string = join(repoRoot, 'dist', 'shim', 'multinet-cni');
let shimBuilt = false;

export function shimPath(): string {
  if (!shimBuilt) {
    const build = spawnSync('bash', [join(repoRoot, 'scripts', 'build-shim.sh')], { encoding: 'utf8' });
    if (build.status !== 0) {
      throw new Error(
        `building the CNI shim (scripts/build-shim.sh) failed:\n${build.stdout}${build.stderr}`,
      );
    }
    shimBuilt = true;
  }
  return builtShim;
}
