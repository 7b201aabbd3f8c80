/** Directory watching for entry points: fs.watch with debouncing, tolerant of a missing directory. */
import { watch, type FSWatcher } from 'node:fs';

/** Calls onChange (debounced) whenever something in dir changes; returns a function that stops watching. */
export function watchDirectory(dir: string, onChange: () => void, debounceMs = 150): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const fire = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
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
