/**
 * Lints the Dockerfile by inspection (no Docker engine here, and no hadolint package in Debian): the
 * rules hadolint would flag for this file, plus consistency with the repository (every COPY source
 * exists, the entry point is what `npm run build` emits).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

  it('builds the shim statically with the build script and ships it where the chart tells the agent to find it', () => {
    const shimStage = lines.slice(lines.indexOf('FROM ${GO_IMAGE} AS shim') + 1);
    const steps = shimStage.slice(
      0,
      shimStage.findIndex((l) => l.startsWith('FROM ')),
    );
    expect(steps).toEqual(
      expect.arrayContaining([
        'COPY cni ./cni',
        'COPY scripts/build-shim.sh ./scripts/',
        'RUN bash scripts/build-shim.sh',
      ]),
    );
    // The script is the one go build line: static (no cgo), of cni/, to dist/shim/multinet-cni.
    const script = readFileSync(join(root, 'scripts', 'build-shim.sh'), 'utf8');
    expect(script).toMatch(
      /^\(cd cni && CGO_ENABLED=0 go build .*-o "\.\.\/\$out\/multinet-cni\.tmp" \.\)$/m,
    );
    expect(script).toMatch(/^out=dist\/shim$/m);
    const workdir = steps.find((l) => l.startsWith('WORKDIR '))!.slice('WORKDIR '.length);
    expect(text).toContain(
      `COPY --from=shim ${workdir}/dist/shim/multinet-cni /usr/local/lib/multinet/multinet-cni`,
    );
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { outDir: string };
    };
    expect(text).toContain(`COPY --from=build /src/${build.compilerOptions.outDir} ./`);
  });
});
