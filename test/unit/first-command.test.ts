/**
 * A newcomer's first command: `npx multinet ...` under the Node.js that runs npm (20 or later, as the
 * README says; the code itself runs on the Node 24 that `npm ci` brings) prints multinet's own output
 * and nothing of npm's (npm warned EBADENGINE twice per call while package.json asked npm's Node for
 * >= 22.19, the first time npx resolved `multinet`: with a cold npx cache, so here with an empty one).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';

/** PATH without the project's node_modules/.bin dirs (npm run puts them first): the user's own Node and npm. */
const userPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir && !dir.includes('node_modules'))
  .join(delimiter);

function onPath(name: string): string | undefined {
  return userPath
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((file) => existsSync(file));
}

const node = onPath('node');
const npx = onPath('npx');
const nodeVersion = node ? spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim() : 'none';

describe(`npx multinet under the machine's own Node.js (${nodeVersion})`, () => {
  it('has a Node.js with npx outside the project', () => {
    expect({ node, npx }).toEqual({ node: expect.any(String), npx: expect.any(String) });
  });

  it('package.json asks npm for a Node.js the README says is enough (20)', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toBe('>=20');
  });

  it('prints only multinet’s own output, also the first time (a cold npm cache)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'multinet-npm-cache-'));
    let run;
    try {
      run = spawnSync(npx!, ['multinet', 'lint', 'nad', 'examples/seed/macvlan-conf.nad.yaml'], {
        cwd: repoRoot,
        encoding: 'utf8',
        env: { ...process.env, PATH: userPath, npm_config_cache: cache },
      });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '1 checked, 0 invalid\n',
    });
  }, 60_000);
});
