import { ValidationError } from './errors.ts';

/** Bounds that keep hostile input (huge, deep or alias-bombed documents) from exhausting the process. */
export interface ShapeLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxNodes: number;
}

const defaultLimits: ShapeLimits = { maxBytes: 1024 * 1024, maxDepth: 64, maxNodes: 100_000 };

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks depth and node count iteratively (no recursion, so no stack overflow on deep input) and
 * throws a ValidationError at `path` when a limit is passed. Shared references count each time they
 * are reached, which bounds YAML alias bombs too.
 */
export function checkShape(value: unknown, path: string, limits: ShapeLimits = defaultLimits): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (++nodes > limits.maxNodes) {
      throw ValidationError.single(path, `document has more than ${limits.maxNodes} values`);
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limits.maxDepth) {
      throw ValidationError.single(path, `document is nested deeper than ${limits.maxDepth} levels`);
    }
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) stack.push([child, depth + 1]);
  }
}

/** JSON.parse with a size bound, a shape bound and a ValidationError (never a SyntaxError) on bad input. */
export function parseJson(text: string, path: string, limits: ShapeLimits = defaultLimits): JsonValue {
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    throw ValidationError.single(path, `is larger than ${limits.maxBytes} bytes`);
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw ValidationError.single(path, `is not valid JSON: ${detail}`);
  }
  checkShape(value, path, limits);
  return value;
}

/**
 * Whether JSON text nests arrays and objects deeper than maxDepth, found by one pass over the text
 * (brackets inside strings do not count), before JSON.parse spends memory on it. Text that is not
 * JSON is not judged here (JSON.parse says what is wrong with it).
 */
export function jsonNestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
