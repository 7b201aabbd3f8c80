/**
 * The guide to replacing Multus (docs/replacing-multus.md) is the command sequence the anchors tier runs on the real node
 * (test/anchors/multus-migration.test.ts runs test/anchors/multus-migration-guide.ts step by step): the
 * two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../dev/repo-root.ts';
import { guideText } from '../anchors/multus-migration-guide.ts';

describe('the guide to replacing Multus on a live cluster', () => {
  it('is in docs/replacing-multus.md exactly as the anchors tier runs it', () => {
    const guide = readFileSync(join(repoRoot, 'docs', 'replacing-multus.md'), 'utf8');
    expect(guide).toContain(`\`\`\`sh\n${guideText()}\n\`\`\`\n`);
  });
});
