/**
 * jest globalSetup of the `netns` project (an entry point): builds the self-contained shim
 * (dist/shim/multinet-cni) the tests install and run, exactly as the image ships it.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function globalSetup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const build = spawnSync('bash', [join(root, 'scripts', 'build-shim.sh')], { encoding: 'utf8' });
  if (build.status !== 0) {
    throw new Error(
      `jest project "netns": building the shim failed (scripts/build-shim.sh):\n${build.stdout}${build.stderr}`,
    );
  }
}
