/**
 * The production image holds what the three components run, and nothing of the harness: the files the
 * build compiles (`tsc -p tsconfig.build.json`, listed without emitting) are all product layers, and the
 * Dockerfile copies no harness dir. A harness module imported by product code would show up here.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);
const productLayers = ['lib', 'platform', 'agent', 'controllers', 'webhooks', 'cli', 'cmd'];

describe('the production image', () => {
  it('compiles only the product layers: no dev/, playground/, bench/ or test/ module, no test file', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--listFilesOnly',
      ],
      { cwd: root, maxBuffer: 16 << 20 },
    );
    const ours = stdout
      .split('\n')
      .filter((f) => f.startsWith(root) && !f.includes('/node_modules/'))
      .map((f) => relative(root, f));
    expect(ours.length).toBeGreaterThan(100);
    const outside = ours.filter((f) => !productLayers.includes(f.split('/')[0]!) || f.endsWith('.test.ts'));
    expect(outside).toEqual([]);
    expect(ours).toContain('cmd/multinet.ts');
    expect(ours).toContain('agent/agent.ts');
  }, 60_000);

  it('is built from a Dockerfile that copies no harness dir', () => {
    const copied = readFileSync(join(root, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((l) => /^COPY (?!--from)/.test(l))
      .flatMap((l) =>
        l
          .replace(/^COPY /, '')
          .split(/\s+/)
          .slice(0, -1),
      );
    expect(copied.filter((source) => /^(dev|playground|bench|test|crds)\b/.test(source))).toEqual([]);
  });
});
