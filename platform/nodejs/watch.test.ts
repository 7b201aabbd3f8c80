/** The conf-dir watch: debounced, but never starved by edits that do not stop. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchDirectory } from './watch.ts';

describe('watchDirectory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-watch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a change while edits go on, every 20 ms for 4 s (its delay is bounded)', async () => {
    let editing = true;
    const reported = new Promise<boolean>((resolve) => {
      const stop = watchDirectory(dir, () => {
        stop();
        resolve(editing);
      });
    });
    let edits = 0;
    const editor = setInterval(() => writeFileSync(join(dir, '10-net.conflist'), `{"edit":${++edits}}`), 20);
    const stopEditing = setTimeout(() => {
      editing = false;
      clearInterval(editor);
    }, 4000);
    try {
      expect(await reported).toBe(true); // reported while the edits went on, not only after they stopped
    } finally {
      clearInterval(editor);
      clearTimeout(stopEditing);
    }
  });
});
