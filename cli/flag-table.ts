/**
 * A command's flags as one table, the single place a flag is written: each entry names the flag, its
 * kind, its --help section, argument placeholder and text, its default and how its value is read.
 * The parse spec, the values (typed from the entries' readers), the --help text and the defaults are
 * all made from it. Rules that involve several flags or the environment stay with the command, after
 * the per-flag reading.
 */
import { parseOptions } from './options.ts';

/** string: one value (the last one given); boolean: no value; repeatable: every value given. */
export type FlagKind = 'string' | 'boolean' | 'repeatable';

type DefaultValue = string | number | undefined;
type RawValue = string | boolean | string[] | undefined;

export interface Flag<V = unknown, D extends DefaultValue = DefaultValue> {
  /** The flag's name, without "--". */
  readonly name: string;
  readonly kind: FlagKind;
  /** The --help section it is listed under (entries several commands share get theirs from inSection). */
  readonly section?: string | undefined;
  /** Its argument's placeholder in --help (FILE, SECONDS, N|auto); none for a boolean. */
  readonly arg?: string | undefined;
  readonly help: string;
  /** What it is when not given (handed to its reader), shown as "(default: …)". */
  readonly default: D;
  /** What "(default: …)" says instead of the default value (e.g. "$NODE_NAME"). */
  readonly shownDefault?: string | undefined;
  /** Its value from what the command line gave (undefined: not given). */
  readonly value: (given: RawValue) => V;
}

interface FlagText<D extends DefaultValue> {
  readonly name: string;
  readonly section?: string;
  readonly arg?: string;
  readonly help: string;
  readonly default?: D;
  readonly shownDefault?: string;
}

/**
 * Reads a flag's value: (flag name, what was given, the default) to the value, throwing a UsageError
 * that names the flag. The value parsers of flag-values.ts have this shape.
 */
export type FlagReader<G, D, V> = (flag: string, given: G, fallback: D) => V;

function entry<V, D extends DefaultValue>(
  kind: FlagKind,
  text: FlagText<D>,
  read: FlagReader<never, D, V>,
): Flag<V, D> {
  const fallback = text.default as D;
  return {
    ...text,
    kind,
    default: fallback,
    value: (given) => read(text.name, given as never, fallback),
  };
}

const givenOrDefault = <D>(_flag: string, given: string | undefined, fallback: D): string | D =>
  given ?? fallback;

/** A flag with one value; without a reader, the value as given, else the default. */
export function stringFlag<D extends DefaultValue = undefined, V = string | D>(
  text: FlagText<D> & { readonly read?: FlagReader<string | undefined, D, V> },
): Flag<V, D> {
  return entry('string', text, (text.read ?? givenOrDefault) as FlagReader<never, D, V>);
}

/** A flag without a value: true when given. */
export function booleanFlag(text: Omit<FlagText<undefined>, 'arg' | 'default'>): Flag<boolean, undefined> {
  return entry('boolean', text, (_flag, given: boolean | undefined) => given === true);
}

/** A flag that may be given several times: its reader gets every value given, in order. */
export function repeatableFlag<D extends DefaultValue, V>(
  text: FlagText<D> & { readonly read: FlagReader<string[] | undefined, D, V> },
): Flag<V, D> {
  return entry('repeatable', text, text.read as FlagReader<never, D, V>);
}

export type FlagTable = Readonly<Record<string, Flag>>;

/** Shared entries (common-flags.ts), placed in a command's help section. */
export function inSection<T extends FlagTable>(section: string, entries: T): T {
  return Object.fromEntries(Object.entries(entries).map(([key, flag]) => [key, { ...flag, section }])) as T;
}

/** The values a table reads, by entry. */
export type FlagValues<T extends FlagTable> = {
  readonly [K in keyof T]: ReturnType<T[K]['value']>;
};

/** The entries' defaults, by entry (those that have one). */
export type FlagDefaults<T extends FlagTable> = {
  readonly [K in keyof T as T[K]['default'] extends undefined ? never : K]: Exclude<
    T[K]['default'],
    undefined
  >;
};

export function flagDefaults<T extends FlagTable>(table: T): FlagDefaults<T> {
  return Object.fromEntries(
    Object.entries(table)
      .filter(([, flag]) => flag.default !== undefined)
      .map(([key, flag]) => [key, flag.default]),
  ) as FlagDefaults<T>;
}

/** node's parseArgs options for a table. */
export function parseSpec(
  table: FlagTable,
): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(
    Object.values(table).map((flag) => [
      flag.name,
      flag.kind === 'boolean'
        ? { type: 'boolean' }
        : flag.kind === 'repeatable'
          ? { type: 'string', multiple: true }
          : { type: 'string' },
    ]),
  );
}

/** Parses args by the table: each entry's value, read in table order, and the positional arguments. */
export function parseFlags<T extends FlagTable>(
  table: T,
  args: readonly string[],
): { readonly values: FlagValues<T>; readonly positionals: string[] } {
  const { values: given, positionals } = parseOptions(args, parseSpec(table));
  const values = Object.fromEntries(
    Object.entries(table).map(([key, flag]) => [key, flag.value(given[flag.name])]),
  ) as FlagValues<T>;
  return { values, positionals };
}

/** How wide --help lines are, and the widest flag (with its argument) that shares its line with its text. */
const helpWidth = 110;
const widestInline = 28;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

/**
 * The flags' part of --help: each section in the order given, a flag a line (with its argument) and its
 * text (with its default) wrapped in an aligned column; a flag too long for the column has a line of its own.
 */
export function flagHelp(table: FlagTable, sections: readonly string[]): string {
  const flags = Object.values(table);
  const stray = flags.find((flag) => flag.section === undefined || !sections.includes(flag.section));
  if (stray) throw new Error(`--${stray.name}: no help section ${JSON.stringify(stray.section)}`);
  const label = (flag: Flag): string => `--${flag.name}${flag.arg ? ` ${flag.arg}` : ''}`;
  const column =
    2 +
    Math.max(
      ...flags
        .map(label)
        .filter((l) => l.length <= widestInline)
        .map((l) => l.length),
    ) +
    2;
  const indent = ' '.repeat(column);
  const lines = (flag: Flag): string[] => {
    const shown = flag.shownDefault ?? (flag.default === undefined ? undefined : String(flag.default));
    const text = wrap(`${flag.help}${shown === undefined ? '' : ` (default: ${shown})`}`, helpWidth - column);
    const head = `  ${label(flag)}`;
    const first = head.length + 2 <= column ? [`${head.padEnd(column)}${text.shift() ?? ''}`] : [head];
    return [...first, ...text.map((l) => indent + l)].map((l) => l.trimEnd());
  };
  return sections
    .filter((section) => flags.some((flag) => flag.section === section))
    .map((section) => [`${section}:`, ...flags.filter((flag) => flag.section === section).flatMap(lines)])
    .map((block) => block.join('\n'))
    .join('\n\n');
}
