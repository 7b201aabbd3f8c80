/** Finds an executable by name in a PATH-style list of directories. */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export function findExecutable(
  name: string,
  path: string | undefined,
  extraDirs: readonly string[] = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'],
): string | undefined {
  const dirs = [...(path ?? '').split(':').filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}
