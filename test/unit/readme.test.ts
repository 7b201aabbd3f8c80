/**
 * The docs (the README and docs/) document every flag of every long-running command, and the README shows
 * the commands CI and a newcomer rely on: a help text and the docs cannot drift apart unnoticed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commands } from '../../cli/commands.ts';
import { harnessCommands } from '../../playground/commands.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
/** The README and every page of docs/: a flag documented in any of them is documented. */
const docs = [
  readme,
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => readFileSync(join(root, 'docs', name), 'utf8')),
].join('\n');

function flags(usage: string): string[] {
  return [...new Set([...usage.matchAll(/(?<![\w-])--[a-z][a-z0-9-]+/g)].map((m) => m[0]))].sort();
}

describe('README.md and docs/', () => {
  it('shows the install-and-run and the test commands on its first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 40).join('\n');
    expect(firstScreen).toContain('npm ci && npm test');
    expect(firstScreen).toMatch(/npx multinet /);
  });

  // Whole flags: --max-parallel in the docs does not document --max.
  const documented = new Set(flags(docs));

  it.each(['agent', 'controller', 'webhook', 'up', 'doctor'])(
    'documents every flag of `multinet %s`',
    async (name) => {
      const { usage } = await { ...commands, ...harnessCommands }[name]!.load();
      const missing = flags(usage).filter((flag) => !documented.has(flag));
      expect(missing).toEqual([]);
    },
  );

  it('counts a flag as documented only where it is written whole', () => {
    expect(flags('use --max-parallel 8 or --socket=/run/x.sock')).toEqual(['--max-parallel', '--socket']);
    expect(flags('--max-parallel')).not.toContain('--max');
  });
});
