/**
 * Lints the Dockerfile by inspection (no Docker engine here, and no hadolint package in Debian): the
 * rules hadolint would flag for this file, plus consistency with the repository (every COPY source
 * exists, the entry point is what `npm run build` emits).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFlagDefaults } from '../../cli/agent-flags.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const lines = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = lines.filter((l) => /^FROM /i.test(l));

describe('Dockerfile', () => {
  it('is multi-stage on a pinned current LTS Node image, and one Go stage for the shim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(/^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1]).toMatch(/^node:24\.\d+\.\d+-bookworm-slim$/);
    expect(/^ARG GO_IMAGE=(\S+)$/m.exec(text)?.[1]).toMatch(/^golang:1\.26(\.\d+)?-bookworm$/);
    expect(stages.filter((from) => from === 'FROM ${GO_IMAGE} AS shim')).toHaveLength(1);
    for (const from of stages.filter((f) => !f.includes('GO_IMAGE')))
      expect(from).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/);
  });

  it('runs as a non-root user in the final stage and has an entry point', () => {
    const final = lines.slice(lines.lastIndexOf(stages[stages.length - 1]!));
    const user = final.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/);
    expect(final.some((l) => l.startsWith('ENTRYPOINT ["node", "/app/cmd/multinet.js"]'))).toBe(true);
    expect(existsSync(join(root, 'cmd', 'multinet.ts'))).toBe(true);
  });

  it('follows the usual rules: no ADD, apt without recommends and with its lists removed, npm ci', () => {
    expect(lines.filter((l) => /^ADD /.test(l))).toEqual([]);
    for (const line of lines.filter((l) => l.includes('apt-get install'))) {
      expect(line).toContain('--no-install-recommends');
      expect(line).toContain('-y');
      expect(line).toContain('rm -rf /var/lib/apt/lists/*');
    }
    expect(lines.filter((l) => /npm install\b/.test(l))).toEqual([]);
    expect(lines.some((l) => l.includes('npm ci'))).toBe(true);
  });

  it('copies only what exists in the repository', () => {
    const sources = lines
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) =>
        l
          .replace(/^COPY /, '')
          .split(/\s+/)
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) expect([source, existsSync(join(root, source))]).toEqual([source, true]);
  });

  it('builds the shim and the spawner with their build scripts and ships them where the agent finds them', () => {
    const shimStage = lines.slice(lines.indexOf('FROM ${GO_IMAGE} AS shim') + 1);
    const steps = shimStage.slice(
      0,
      shimStage.findIndex((l) => l.startsWith('FROM ')),
    );
    expect(steps).toEqual(
      expect.arrayContaining([
        'COPY cni ./cni',
        'COPY spawner ./spawner',
        'COPY package.json ./',
        'COPY scripts/build-go.sh scripts/build-shim.sh scripts/build-spawner.sh ./scripts/',
        'RUN bash scripts/build-shim.sh && bash scripts/build-spawner.sh',
      ]),
    );
    // That what the scripts build is static, the netns tier proves: it runs both in an empty root.
    const workdir = steps.find((l) => l.startsWith('WORKDIR '))!.slice('WORKDIR '.length);
    expect(text).toContain(
      `COPY --from=shim ${workdir}/dist/shim/multinet-cni /usr/local/lib/multinet/multinet-cni`,
    );
    expect(text).toContain(
      `COPY --from=shim ${workdir}/dist/spawner/multinet-spawner ${agentFlagDefaults.spawner}`,
    );
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { outDir: string };
    };
    expect(text).toContain(`COPY --from=build /src/${build.compilerOptions.outDir} ./`);
  });
});
