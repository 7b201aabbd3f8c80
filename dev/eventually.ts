/** Polling until something holds: for steps that wait on other processes (tests, the playground). */
import type { ChildProcess } from 'node:child_process';
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

/**
 * eventually, for a condition a child process brings about: fails as soon as the child exits (or
 * had exited), with `detail()` (its log, say) in the error, instead of waiting out the timeout.
 */
export async function eventuallyWhileRunning<T>(
  child: ChildProcess,
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly detail?: () => string } = {},
): Promise<T> {
  const detail = (): string => (options.detail ? `:\n${options.detail()}` : '');
  const exitOf = (): string => `exit ${String(child.exitCode ?? child.signalCode)}`;
  if (child.exitCode !== null || child.signalCode !== null)
    throw new Error(`the process had exited (${exitOf()}) before ${what}${detail()}`);
  const exited = new AbortController();
  const onExit = (): void => exited.abort();
  child.once('exit', onExit);
  try {
    return await eventually(what, probe, { ...options, signal: exited.signal });
  } catch (err) {
    if (exited.signal.aborted)
      throw new Error(`the process exited (${exitOf()}) while waiting for ${what}${detail()}`, {
        cause: err,
      });
    throw new Error(`${errorMessage(err)}${detail()}`, { cause: err });
  } finally {
    child.off('exit', onExit);
  }
}
