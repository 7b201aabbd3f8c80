/**
 * The `--help` of multinet's commands as the docs show them (a code block under
 * `<summary><code>multinet NAME --help</code>`), rendered from the commands' own usage texts so the docs
 * cannot drift from the flags (each command's flags are one table, cli/flag-table.ts).
 *
 * `npm run docs:help` writes each block of `helpBlocks`; test/unit/docs.test.ts fails when one differs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commands } from '../cli/commands.ts';
import { writeFileAtomic } from '../platform/nodejs/fs.ts';
import { repoRoot } from '../dev/repo-root.ts';

/** Which page shows which command's --help. */
export const helpBlocks: ReadonlyArray<{ readonly file: string; readonly command: string }> = [
  { file: 'docs/agent.md', command: 'agent' },
  { file: 'docs/doctor.md', command: 'doctor' },
];

/** The usage text `multinet NAME --help` prints. */
export async function usageOf(command: string): Promise<string> {
  const entry = commands[command];
  if (!entry) throw new Error(`no command "${command}" in cli/commands.ts`);
  return (await entry.load()).usage.trimEnd();
}

/** Where the block's text starts and ends in `doc`; throws naming the file when there is none. */
function blockRange(doc: string, command: string, file: string): { start: number; end: number } {
  const summary = `<summary><code>multinet ${command} --help</code>`;
  const at = doc.indexOf(summary);
  const open = at < 0 ? -1 : doc.indexOf('```\n', at);
  const end = open < 0 ? -1 : doc.indexOf('\n```', open + 4);
  if (end < 0) throw new Error(`${file}: no code block under "${summary}"`);
  return { start: open + 4, end };
}

/** The --help block of `command` in `doc`. */
export function helpBlockIn(doc: string, command: string, file: string): string {
  const { start, end } = blockRange(doc, command, file);
  return doc.slice(start, end);
}

/** `doc` with `usage` as the --help block of `command`. */
export function withHelpBlock(doc: string, command: string, usage: string, file: string): string {
  const { start, end } = blockRange(doc, command, file);
  return `${doc.slice(0, start)}${usage}${doc.slice(end)}`;
}

/** `npm run docs:help`: writes every block that differs. */
async function writeBlocks(root: string): Promise<void> {
  for (const { file, command } of helpBlocks) {
    const path = join(root, file);
    const doc = await readFile(path, 'utf8');
    const next = withHelpBlock(doc, command, await usageOf(command), file);
    if (next !== doc) await writeFileAtomic(path, next, 0o644, { fsync: false });
  }
}

if (import.meta.main) await writeBlocks(repoRoot);
