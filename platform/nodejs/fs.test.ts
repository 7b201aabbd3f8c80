import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileSystem } from './fs.ts';

describe('the Node.js file system port', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-fs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([true, false])(
    'replaces a file atomically with its mode, leaving no temp file (fsync %s)',
    async (fsync) => {
      const path = join(dir, 'record.json');
      writeFileSync(path, 'old', { mode: 0o644 });
      await nodeFileSystem.writeFileAtomic(path, 'new content', 0o600, { fsync });
      expect(await nodeFileSystem.readFile(path)).toBe('new content');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual(['record.json']);
    },
  );

  it.each([true, false])(
    'fails a write into a missing dir naming the file, without leaving anything (fsync %s)',
    async (fsync) => {
      const path = join(dir, 'no', 'x');
      await expect(nodeFileSystem.writeFileAtomic(path, 'x', 0o600, { fsync })).rejects.toThrow(
        `cannot write ${path}: ENOENT: no such file or directory`,
      );
      await expect(nodeFileSystem.writeFileAtomic(path, 'x', 0o600, { fsync })).rejects.toMatchObject({
        code: 'ENOENT',
      });
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it('answers for missing files without throwing where the port says so', async () => {
    expect(await nodeFileSystem.stat(join(dir, 'missing'))).toBeUndefined();
    expect(await nodeFileSystem.list(join(dir, 'missing'))).toEqual([]);
    await expect(nodeFileSystem.remove(join(dir, 'missing'))).resolves.toBeUndefined();
    await expect(nodeFileSystem.readFile(join(dir, 'missing'))).rejects.toThrow('ENOENT');
    writeFileSync(join(dir, 'f'), 'abc');
    expect(await nodeFileSystem.stat(join(dir, 'f'))).toMatchObject({ size: 3, isFile: true });
    expect(await nodeFileSystem.list(dir)).toEqual(['f']);
  });

  it('removes a file, and refuses to remove a directory (a rejection, not a throw)', async () => {
    writeFileSync(join(dir, 'g'), 'x');
    await nodeFileSystem.remove(join(dir, 'g'));
    expect(readdirSync(dir)).toEqual([]);
    await nodeFileSystem.mkdir(join(dir, 'sub'));
    await expect(nodeFileSystem.remove(join(dir, 'sub'))).rejects.toThrow(/EISDIR|EPERM/);
    expect(readdirSync(dir)).toEqual(['sub']);
  });

  it('removes the temp files an interrupted atomic write left, only those (of one target when asked)', async () => {
    for (const name of [
      '.a.json.0123456789ab.tmp',
      '.b.conflist.ba9876543210.tmp',
      '.c.tmp', // not one of its temp names
      'a.json',
      '.hidden',
    ])
      writeFileSync(join(dir, name), 'x');
    expect(await nodeFileSystem.removeTempFiles(dir, 'b.conflist')).toEqual(['.b.conflist.ba9876543210.tmp']);
    expect(await nodeFileSystem.removeTempFiles(dir)).toEqual(['.a.json.0123456789ab.tmp']);
    expect(readdirSync(dir).sort()).toEqual(['.c.tmp', '.hidden', 'a.json']);
    expect(await nodeFileSystem.removeTempFiles(join(dir, 'missing'))).toEqual([]);
  });

  it('tells a namespace file from any other file', async () => {
    writeFileSync(join(dir, 'passwd'), 'root:x:0:0\n');
    expect(await nodeFileSystem.isNamespaceFile('/proc/self/ns/net')).toBe(true);
    expect(await nodeFileSystem.isNamespaceFile(join(dir, 'passwd'))).toBe(false);
    expect(await nodeFileSystem.isNamespaceFile(join(dir, 'missing'))).toBe(false);
  });
});
