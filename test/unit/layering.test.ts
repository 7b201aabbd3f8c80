/**
 * The layering rules (.dependency-cruiser.cjs and eslint.layers.js) catch what they are for: each rule
 * run on a small tree that breaks it, and on one that keeps it. `npm run lint:layers` runs the same
 * rules on the repository.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
// @ts-expect-error: a plain JavaScript module shared with eslint.config.js
import { processAllowed, processRules } from '../../eslint.layers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

const tree: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', allowImportingTsExtensions: true },
  }),
  'lib/pure.ts': "import { createHash } from 'node:crypto';\nexport const h = createHash('sha256');\n",
  'lib/reads-files.ts': "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
  'lib/uses-platform.ts': "import { p } from '../platform/adapter.ts';\nexport const x = p;\n",
  'platform/adapter.ts': "import { h } from '../lib/pure.ts';\nexport const p = h;\n",
  'platform/uses-agent.ts': "import { a } from '../agent/ok.ts';\nexport const y = a;\n",
  'agent/ok.ts': "import { p } from '../platform/adapter.ts';\nexport const a = p;\n",
  'agent/uses-double.ts': "import { fake } from '../test/doubles/fake.ts';\nexport const z = fake;\n",
  'controllers/uses-agent.ts': "import { a } from '../agent/ok.ts';\nexport const c = a;\n",
  'controllers/one.ts': "import { two } from './two.ts';\nexport const one = (): number => two() + 1;\n",
  'controllers/two.ts': "import { one } from './one.ts';\nexport const two = (): number => one();\n",
  'test/doubles/fake.ts': "import { a } from '../../agent/ok.ts';\nexport const fake = a;\n",
  'cli/uses-harness.ts': "import { node } from '../dev/node.ts';\nexport const n = node;\n",
  'dev/node.ts': "import { a } from '../agent/ok.ts';\nexport const node = a;\n",
};

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

describe('layering rules (dependency-cruiser)', () => {
  let dir: string;
  let violations: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-layers-'));
    for (const [path, text] of Object.entries(tree)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const cli = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
    const config = join(root, '.dependency-cruiser.cjs');
    const args = [
      cli,
      '--config',
      config,
      '--output-type',
      'json',
      'lib',
      'platform',
      'agent',
      'controllers',
      'cli',
      'dev',
      'test',
    ];
    // depcruise exits non-zero when it finds violations; the JSON report is on stdout either way.
    const out = await run(process.execPath, args, { cwd: dir, maxBuffer: 16 << 20 }).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
    );
    const report = JSON.parse(out.stdout) as { summary: { violations: Violation[] } };
    violations = report.summary.violations.map((v) => `${v.rule.name} ${v.from} -> ${v.to}`).sort();
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('flags each broken rule, and nothing in the files that keep them', () => {
    expect(violations).toEqual(
      [
        'lib-is-pure lib/reads-files.ts -> fs',
        'lib-is-pure lib/uses-platform.ts -> platform/adapter.ts',
        'no-circular controllers/one.ts -> controllers/two.ts',
        'parts-are-independent controllers/uses-agent.ts -> agent/ok.ts',
        'platform-below-parts platform/uses-agent.ts -> agent/ok.ts',
        'product-never-imports-tests agent/uses-double.ts -> test/doubles/fake.ts',
        'product-never-imports-harness cli/uses-harness.ts -> dev/node.ts',
      ].sort(),
    );
  });
});

describe('only entry points touch process (eslint)', () => {
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, rules: processRules },
      { files: processAllowed, rules: { 'no-restricted-globals': 'off', 'no-restricted-imports': 'off' } },
    ],
  });
  const messages = async (path: string, code: string): Promise<string[]> => {
    const [result] = await eslint.lintText(code, { filePath: join(root, path) });
    return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.line}`);
  };

  it('flags process in product code, and an import of node:process', async () => {
    await expect(messages('agent/x.ts', 'export const pid = process.pid;\n')).resolves.toEqual([
      'no-restricted-globals: 1',
    ]);
    await expect(
      messages('platform/nodejs/x.ts', "import { kill } from 'node:process';\nexport const k = kill;\n"),
    ).resolves.toEqual(['no-restricted-imports: 1']);
  });

  it('allows it in the entry points and in tests', async () => {
    await expect(messages('cmd/x.ts', 'export const pid = process.pid;\n')).resolves.toEqual([]);
    await expect(messages('agent/x.test.ts', 'export const pid = process.pid;\n')).resolves.toEqual([]);
  });
});
