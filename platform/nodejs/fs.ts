/** The real FileSystem port on node:fs. */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { copyFile, chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileInfo, FileSystem } from '../../lib/ports.ts';

/** A temp name beside the target that no CNI loader picks up (not *.conf/*.conflist/*.json). */
function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The names tempBeside gives, with the target's name as group 1. */
const tempName = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

/** Whether name is a temp file of an atomic write (of target, when given). */
export function isTempFileName(name: string, target?: string): boolean {
  const match = tempName.exec(name);
  return match !== null && (target === undefined || match[1] === target);
}

/** statfs's f_type of nsfs, the file system of namespace files (linux/magic.h NSFS_MAGIC). */
const nsfsMagic = 0x6e736673;

function isNamespaceFile(path: string): boolean {
  try {
    return statfsSync(path).type === nsfsMagic;
  } catch {
    return false;
  }
}

function removeTempFiles(dir: string, target?: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stale = names.filter((name) => isTempFileName(name, target));
  for (const name of stale) removeFile(join(dir, name));
  return stale;
}

/** An error that names the file that could not be written (ENOSPC and EIO messages name only the call). */
function writeError(path: string, err: unknown): Error {
  const cause = err as NodeJS.ErrnoException;
  return Object.assign(new Error(`cannot write ${path}: ${cause.message ?? String(err)}`, { cause: err }), {
    code: cause.code,
  });
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Temp + rename without fsync. Writing the temp file only touches the page cache, so it is done
 * synchronously (microseconds, where each step through the thread pool costs an event-loop round
 * trip); the rename is a journaled metadata change that can wait on the disk, so it goes to the pool.
 */
async function replaceFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temp = tempBeside(path);
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw writeError(path, err);
  }
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  options: { readonly fsync?: boolean } = {},
): Promise<void> {
  if (options.fsync === false) return replaceFile(path, data, mode);
  const temp = tempBeside(path);
  const handle = await open(temp, 'w', mode).catch((err: unknown) => {
    throw writeError(path, err);
  });
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw writeError(path, err);
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw writeError(path, err);
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
    throw writeError(to, err);
  }
  await fsyncDir(dirname(to)).catch(() => undefined);
}

/** A synchronous call as a promise (its exception as a rejection). */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** unlink, where a file that is not there is not an error. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Reads, stats, lists and removals are synchronous: the files are small and local (the CNI conf and
 * bin dirs, the agent's state dir), where a call costs microseconds and a trip through the thread pool
 * costs an event-loop turn and two thread wake-ups, which the CNI hot path pays many times (measured
 * here: unlinkSync 0.03 ms median, fs/promises rm 0.46 ms and 2-4 ms at p99). Renames, which replace a
 * file and wait on the journal longer, go to the pool (writeFileAtomic).
 */
export const nodeFileSystem: FileSystem = {
  readFile: (path) => settle(() => readFileSync(path, 'utf8')),
  writeFileAtomic,
  copyFileAtomic,
  remove: (path) => settle(() => removeFile(path)),
  list: (dir) =>
    settle(() => {
      try {
        return readdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    }),
  stat: (path) =>
    settle((): FileInfo | undefined => {
      const s = statSync(path, { throwIfNoEntry: false });
      return (
        s && {
          mtimeMs: s.mtimeMs,
          ctimeMs: s.ctimeMs,
          ino: s.ino,
          size: s.size,
          isFile: s.isFile(),
          mode: s.mode,
        }
      );
    }),
  mkdir: async (path, mode = 0o755) => {
    await mkdir(path, { recursive: true, mode });
  },
  isNamespaceFile: (path) => Promise.resolve(isNamespaceFile(path)),
  removeTempFiles: (dir, target) => settle(() => removeTempFiles(dir, target)),
};
