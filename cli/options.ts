/** Option parsing for every command: node's util.parseArgs, with its errors turned into UsageErrors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<T extends Options> {
  readonly values: {
    [K in keyof T]?: T[K]['type'] extends 'boolean'
      ? boolean
      : T[K] extends { multiple: true }
        ? string[]
        : string;
  };
  readonly positionals: string[];
}

export function parseOptions<T extends Options>(args: readonly string[], options: T): Parsed<T> {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values, positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.replace(/\. To specify.*$/s, '') : String(err));
  }
}
