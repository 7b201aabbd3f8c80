/** Where multinet keeps built control-plane binaries: $MULTINET_CACHE, else $XDG_CACHE_HOME/multinet, else ~/.cache/multinet. */
import { join } from 'node:path';

export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  if (env.MULTINET_CACHE) return env.MULTINET_CACHE;
  return join(env.XDG_CACHE_HOME || join(homeDir, '.cache'), 'multinet');
}
