/** Directory watching for entry points: fs.watch with debouncing, tolerant of a missing directory. */
import { watch, type FSWatcher } from 'node:fs';

/**
 * Calls onChange once changes in dir have been quiet for debounceMs, and at the latest maxDelayMs
 * after the first change it has not reported yet: sustained edits delay it, never starve it. Returns a
 * function that stops watching.
 */
export function watchDirectory(
  dir: string,
  onChange: () => void,
  debounceMs = 150,
  maxDelayMs = 1000,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let firstChange: number | undefined;
  let watcher: FSWatcher | undefined;
  const report = (): void => {
    firstChange = undefined;
    onChange();
  };
  const fire = (): void => {
    const now = Date.now();
    firstChange ??= now;
    clearTimeout(timer);
    timer = setTimeout(report, Math.max(0, Math.min(debounceMs, firstChange + maxDelayMs - now)));
  };
  try {
    watcher = watch(dir, { persistent: false }, fire);
    watcher.on('error', () => undefined);
  } catch {
    // the caller resyncs periodically as well; a directory that appears later is found then
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
