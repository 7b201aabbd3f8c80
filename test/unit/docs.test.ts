/**
 * The README is a short front page and docs/ answers the rest; these checks keep the two true to the
 * repository: every path they name exists, every relative link (and its #anchor) resolves, every
 * top-level folder is described in docs/architecture.md, every page is reachable from the README, and the
 * chart values tables are what scripts/values-table.ts renders from the chart.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { tableIn, valuesTable, valuesTableFiles } from '../../scripts/values-table.ts';
import { helpBlockIn, helpBlocks, usageOf } from '../../scripts/help-blocks.ts';

const read = (file: string): string => readFileSync(join(repoRoot, file), 'utf8');
const docsPages = readdirSync(join(repoRoot, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => `docs/${name}`);
/** The Markdown files the checks cover: the README, docs/, and the chart's README. */
const markdownFiles = ['README.md', ...docsPages, 'charts/multinet/README.md'];
const tracked = execFileSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '');
/** First path segments of the repository (folders and root files), dot-entries left out. */
const topLevel = new Set(tracked.map((f) => f.split('/')[0]!).filter((s) => !s.startsWith('.')));
/** Files that exist now (tracked, or new in this checkout), so a doc may name a file being added. */
const exists = (path: string): boolean => existsSync(join(repoRoot, path));

/** Markdown without its fenced code blocks (their text is commands and output, not references). */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/**
 * The repository paths a Markdown file names in backticks: a relative path whose first segment is a
 * top-level folder or root file of the repository, with no spaces or placeholders (`<ns>`, `...`).
 * `*` is a wildcard within a segment (`lib/doctor/*.test.ts`).
 */
export function namedPaths(markdown: string, roots: ReadonlySet<string>): string[] {
  const paths = new Set<string>();
  for (const [, span] of prose(markdown).matchAll(/`([^`\n]+)`/g)) {
    const candidate = span!.trim();
    if (!/^[\w.*-]+(\/[\w.*-]+)*\/?$/.test(candidate) || candidate.includes('..')) continue;
    const first = candidate.split('/')[0]!;
    if (!roots.has(first) || (!candidate.includes('/') && !/\.\w+$/.test(candidate))) continue;
    paths.add(candidate);
  }
  return [...paths].sort();
}

function pathExists(path: string): boolean {
  if (!path.includes('*')) return exists(path.replace(/\/$/, ''));
  const pattern = new RegExp(
    `^${path
      .replace(/\/$/, '')
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}(/|$)`,
  );
  return tracked.some((f) => pattern.test(f));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, text] of prose(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = text!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative link targets of a Markdown file (`[text](target)`), without external and mail links. */
export function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

describe('the docs', () => {
  it('keep the README a front page of at most 260 lines', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(260);
  });

  it('link every page of docs/ from the README', () => {
    const targets = new Set(relativeLinks(read('README.md')).map((t) => t.split('#')[0]));
    expect(docsPages.filter((page) => !targets.has(page))).toEqual([]);
  });

  it.each(markdownFiles)('%s names only paths that exist', (file) => {
    const missing = namedPaths(read(file), topLevel).filter((path) => !pathExists(path));
    expect(missing).toEqual([]);
  });

  it.each(markdownFiles)('%s has only relative links that resolve, anchors included', (file) => {
    const broken = relativeLinks(read(file)).filter((target) => {
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const resolved = path === '' ? file : relative(repoRoot, join(repoRoot, dirname(file), path));
      if (resolved.startsWith('..') || !exists(resolved)) return true;
      if (
        anchor === undefined ||
        !resolved.endsWith('.md') ||
        statSync(join(repoRoot, resolved)).isDirectory()
      )
        return false;
      return !headingAnchors(read(resolved)).has(anchor);
    });
    expect(broken).toEqual([]);
  });

  it('describe every top-level folder in docs/architecture.md', () => {
    const architecture = read('docs/architecture.md');
    const folders = [...new Set(tracked.filter((f) => f.includes('/')).map((f) => f.split('/')[0]!))].filter(
      (folder) => !folder.startsWith('.'),
    );
    expect(folders.length).toBeGreaterThan(10);
    expect(folders.filter((folder) => !architecture.includes(`| \`${folder}/\``))).toEqual([]);
  });

  it.each(helpBlocks)(
    '$file shows `multinet $command --help` as the command prints it (npm run docs:help)',
    async ({ file, command }) => {
      expect(helpBlockIn(read(file), command, file)).toBe(await usageOf(command));
    },
  );

  it.each(valuesTableFiles)(
    '%s holds the chart values table as scripts/values-table.ts renders it (npm run docs:values)',
    async (file) => {
      expect(tableIn(read(file), file)).toBe(await valuesTable());
    },
  );
});

describe('the docs checks', () => {
  const roots = new Set(['lib', 'docs', 'README.md', 'package.json']);

  it('take backticked repository paths, not URLs, host paths, ns/name or plain words', () => {
    const text = [
      'See `lib/nad.ts`, `lib/doctor/*.test.ts`, `docs/`, `package.json` and `lib/`.',
      'Not: `/etc/cni/net.d`, `default/macvlan-conf`, `https://example.com/x`, `<state-dir>/networks`,',
      '`lib/x ...`, `lib`, `kubectl get nns`, `../shared/anchors`.',
      '```sh',
      'cat lib/in-a-code-block.ts',
      '```',
    ].join('\n');
    expect(namedPaths(text, roots)).toEqual([
      'docs/',
      'lib/',
      'lib/doctor/*.test.ts',
      'lib/nad.ts',
      'package.json',
    ]);
  });

  it('find a path that does not exist, and match wildcards against the tracked files', () => {
    expect(pathExists('lib/nad.ts')).toBe(true);
    expect(pathExists('lib/doctor/*.test.ts')).toBe(true);
    expect(pathExists('cni/main.ts')).toBe(false);
    expect(pathExists('lib/doctor/*.nothing.ts')).toBe(false);
  });

  it('make anchors as GitHub does, and read only links that are relative', () => {
    const anchors = headingAnchors(
      "# Title\n## Several nodes (`multinet dev node --nodes N`)\n## What's new: `a/b`\n## Title\n",
    );
    expect([...anchors]).toEqual([
      'title',
      'several-nodes-multinet-dev-node---nodes-n',
      'whats-new-ab',
      'title-1',
    ]);
    expect(
      relativeLinks('[a](docs/x.md#y) [b](https://example.com) [c](#here) [d](mailto:x@example.com)'),
    ).toEqual(['docs/x.md#y', '#here']);
  });
});
