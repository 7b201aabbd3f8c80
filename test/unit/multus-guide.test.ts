/**
 * The README's guide to replacing Multus is the command sequence the anchors tier runs on the real node
 * (test/anchors/multus-migration.test.ts runs test/anchors/multus-migration-guide.ts step by step): the
 * two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { guideText } from '../anchors/multus-migration-guide.ts';

describe('the guide to replacing Multus on a live cluster', () => {
  it('is in the README exactly as the anchors tier runs it', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`sh\n${guideText()}\n\`\`\`\n`);
  });
});
