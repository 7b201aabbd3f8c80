/** Polling until something holds: for steps that wait on other processes (tests, the playground). */
import { errorMessage } from '../lib/errors.ts';

export interface EventuallyOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Stops waiting (with an "interrupted" error) when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * Calls probe until it returns something other than undefined or false, and returns that. A probe
 * that throws is retried; on timeout the error names what was awaited and the last error seen.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: EventuallyOptions | number = {},
): Promise<T> {
  const {
    timeoutMs = 30_000,
    intervalMs = 200,
    signal,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (signal?.aborted) throw new Error(`interrupted while waiting for ${what}`);
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${errorMessage(last)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A probe for eventually: true when GET url answers 2xx. */
export async function httpOk(url: string): Promise<true | undefined> {
  const response = await fetch(url);
  return response.ok ? true : undefined;
}
