/** The real FileSystem port on node:fs. */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, chmod, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileInfo, FileSystem } from '../../lib/ports.ts';

/** A temp name beside the target that no CNI loader picks up (not *.conf/*.conflist/*.json). */
function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const temp = tempBeside(path);
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(path)).catch(() => undefined);
}

async function copyFileAtomic(from: string, to: string, mode: number): Promise<void> {
  const temp = tempBeside(to);
  try {
    await copyFile(from, temp);
    await chmod(temp, mode);
    const handle = await open(temp, 'r');
    await handle.sync().finally(() => handle.close());
    await rename(temp, to);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(to)).catch(() => undefined);
}

export const nodeFileSystem: FileSystem = {
  readFile: (path) => readFile(path, 'utf8'),
  writeFileAtomic,
  copyFileAtomic,
  remove: (path) => rm(path, { force: true }),
  list: async (dir) => {
    try {
      return await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  },
  stat: async (path): Promise<FileInfo | undefined> => {
    try {
      const s = await stat(path);
      return { mtimeMs: s.mtimeMs, size: s.size, isFile: s.isFile(), mode: s.mode };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  mkdir: async (path, mode = 0o755) => {
    await mkdir(path, { recursive: true, mode });
  },
};
