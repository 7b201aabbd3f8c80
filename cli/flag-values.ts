/**
 * Parsers for flag values shared by every command (lists, numbers, listen addresses, log settings,
 * NAD references), each turning a bad value into a UsageError that names the flag.
 */
import { dns1123LabelError } from '../lib/k8s/names.ts';
import { logLevels, type LogLevel } from '../platform/log.ts';
import { splitNetworkKey } from '../lib/node-state.ts';
import { UsageError } from './io.ts';

/** "a, b,c" to ["a", "b", "c"]; empty or missing gives []. */
export function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A number greater than zero (fractions allowed, e.g. seconds). */
export function positiveNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${flag} must be a positive number (got ${JSON.stringify(value)})`);
  return n;
}

/** A whole number from min to max. */
export function integerInRange(
  flag: string,
  value: string | undefined,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 1
          ? 'a positive integer'
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${flag} must be ${range} (got ${JSON.stringify(value)})`);
  }
  return n;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** "127.0.0.1:8443", "[::1]:8443", or ":8443" (all interfaces); port 0 picks a free one. */
export function listenAddress(flag: string, value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(
      `--${flag} must be ADDRESS:PORT, e.g. 127.0.0.1:8443, [::1]:8443 or :8443 for all interfaces (got ${JSON.stringify(value)})`,
    );
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/** --log-level: one of the logger's levels. */
export function logLevel(flag: string, given: string | undefined, fallback: string): LogLevel {
  const level = (given ?? fallback) as LogLevel;
  if (!logLevels.includes(level)) throw new UsageError(`--${flag} must be one of ${logLevels.join(', ')}`);
  return level;
}

/** --log-format: json or text. */
export function logFormat(flag: string, given: string | undefined, fallback: string): 'json' | 'text' {
  const format = given ?? fallback;
  if (format !== 'json' && format !== 'text') throw new UsageError(`--${flag} must be json or text`);
  return format;
}

/** A comma list of NAD references, each namespace/name. */
export function networkRefs(flag: string, value: string | undefined): string[] {
  const refs = commaList(value);
  for (const ref of refs) {
    const { namespace, name } = splitNetworkKey(ref, '');
    if (!ref.includes('/') || dns1123LabelError(namespace) || dns1123LabelError(name)) {
      throw new UsageError(
        `--${flag} entry ${JSON.stringify(ref)} must be namespace/name (DNS-1123 labels, as pods select them)`,
      );
    }
  }
  return refs;
}
