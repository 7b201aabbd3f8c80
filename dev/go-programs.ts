/**
 * multinet's small Go programs of this checkout, each built on first use by its script (scripts/build-go.sh
 * skips an unchanged build): the CNI shim (cni/) and the agent's plugin spawner (spawner/).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo-root.ts';

/** A function that builds the program once (per process) with `script` and returns `built`. */
function goProgram(script: string, built: string, what: string): () => string {
  let done = false;
  return () => {
    if (!done) {
      const build = spawnSync('bash', [join(repoRoot, 'scripts', script)], { encoding: 'utf8' });
      if (build.status !== 0)
        throw new Error(`building ${what} (scripts/${script}) failed:\n${build.stdout}${build.stderr}`);
      done = true;
    }
    return built;
  };
}

const builtShim: string = join(repoRoot, 'dist', 'shim', 'multinet-cni');
export const shimPath: () => string = goProgram('build-shim.sh', builtShim, 'the CNI shim');

const builtSpawner: string = join(repoRoot, 'dist', 'spawner', 'multinet-spawner');
export const spawnerPath: () => string = goProgram('build-spawner.sh', builtSpawner, 'the plugin spawner');
