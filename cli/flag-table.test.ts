/** The flag tables: --help, the parse spec and the values all come from the one table of each command. */
import { agentFlagSections, agentFlagTable, agentUsage } from './agent-flags.ts';
import { controllerFlagSections, controllerFlagTable, controllerUsage } from './controller-flags.ts';
import {
  booleanFlag,
  flagDefaults,
  flagHelp,
  parseFlags,
  parseSpec,
  repeatableFlag,
  stringFlag,
  type FlagTable,
} from './flag-table.ts';
import { UsageError } from './io.ts';
import { webhookFlagSections, webhookFlagTable, webhookUsage } from './webhook-flags.ts';

const tiny = {
  name: stringFlag({ name: 'name', section: 'One', arg: 'NAME', help: 'a name', default: 'x' }),
  verbose: booleanFlag({ name: 'verbose', section: 'Two', help: 'say more' }),
  dirs: repeatableFlag({
    name: 'dir',
    section: 'One',
    arg: 'D',
    help: 'a directory; repeat it',
    default: '/d',
    read: (_flag, given, fallback) => given ?? [fallback],
  }),
  count: stringFlag({
    name: 'a-rather-long-flag-name',
    section: 'Two',
    arg: 'COUNT',
    help: 'a number, with a text long enough to be wrapped onto a second line in the help of any command that has it',
    default: 3,
    read: (flag, given, fallback) => {
      if (given !== undefined && !/^\d+$/.test(given)) throw new UsageError(`--${flag} must be a number`);
      return given === undefined ? fallback : Number(given);
    },
  }),
};

describe('a flag table', () => {
  it('makes the parse spec, the values and the defaults', () => {
    expect(parseSpec(tiny)).toEqual({
      name: { type: 'string' },
      verbose: { type: 'boolean' },
      dir: { type: 'string', multiple: true },
      'a-rather-long-flag-name': { type: 'string' },
    });
    expect(parseFlags(tiny, []).values).toEqual({ name: 'x', verbose: false, dirs: ['/d'], count: 3 });
    expect(
      parseFlags(tiny, [
        '--name',
        'y',
        '--verbose',
        '--dir',
        '/a',
        '--dir',
        '/b',
        '--a-rather-long-flag-name',
        '7',
      ]).values,
    ).toEqual({ name: 'y', verbose: true, dirs: ['/a', '/b'], count: 7 });
    expect(() => parseFlags(tiny, ['--a-rather-long-flag-name', 'many'])).toThrow(
      '--a-rather-long-flag-name must be a number',
    );
    expect(() => parseFlags(tiny, ['--nope'])).toThrow(UsageError);
    expect(flagDefaults(tiny)).toEqual({ name: 'x', dirs: '/d', count: 3 });
  });

  it('makes --help: sections in the order given, aligned, wrapped, defaults shown', () => {
    expect(flagHelp(tiny, ['Two', 'One'])).toBe(
      [
        'Two:',
        '  --verbose    say more',
        '  --a-rather-long-flag-name COUNT',
        '               a number, with a text long enough to be wrapped onto a second line in the help of any command',
        '               that has it (default: 3)',
        '',
        'One:',
        '  --name NAME  a name (default: x)',
        '  --dir D      a directory; repeat it (default: /d)',
      ].join('\n'),
    );
    expect(() => flagHelp(tiny, ['One'])).toThrow('--verbose: no help section "Two"');
  });

  it('shows a flag added to the table in --help and in the parse spec', () => {
    const grown = {
      ...tiny,
      added: stringFlag({ name: 'added', section: 'One', arg: 'A', help: 'one more', default: 'a' }),
    };
    expect(flagHelp(grown, ['One', 'Two'])).toMatch(/^ {2}--added A +one more \(default: a\)$/m);
    expect(flagHelp(tiny, ['One', 'Two'])).not.toContain('--added');
    expect(parseSpec(grown).added).toEqual({ type: 'string' });
    expect(parseFlags(grown, ['--added', 'b']).values.added).toBe('b');
  });
});

/** A value of each argument placeholder that its flags accept. */
const samples: Record<string, string> = {
  FILE: '/some/file',
  F: '/some/file',
  D: '/some/dir',
  PATH: '/some/path',
  'PATH|auto': 'auto',
  'FILE|none': 'none',
  NAME: 'some-name',
  '[NS/]NAME': 'ns/some-name',
  NS: 'some-ns',
  LIST: 'ns/a,ns/b',
  V: '1.0.0',
  SECONDS: '7',
  N: '7',
  'N|auto': '7',
  PORT: '8443',
  'ADDR:PORT': '127.0.0.1:7',
  LEVEL: 'debug',
  FORMAT: 'text',
  MODE: 'files',
  POLICY: 'Ignore',
  URL: 'https://127.0.0.1:7',
  SELECTOR: 'a=b',
};

const commands: Array<[string, FlagTable, readonly string[], string]> = [
  ['agent', agentFlagTable, agentFlagSections, agentUsage],
  ['controller', controllerFlagTable, controllerFlagSections, controllerUsage],
  ['webhook', webhookFlagTable, webhookFlagSections, webhookUsage],
];

describe.each(commands)('multinet %s', (_command, table, sections, usage) => {
  const read = (args: string[]): Record<string, unknown> => parseFlags(table, args).values;
  const entries = Object.entries(table);

  it('has --help made from its table', () => {
    expect(usage).toContain(flagHelp(table, sections));
    for (const line of usage.split('\n')) expect(line.length).toBeLessThanOrEqual(110);
  });

  it.each(entries.map(([key, flag]) => [flag.name, key]))(
    '--%s is in --help and in the parse spec, and parses',
    (name, key) => {
      const flag = table[key]!;
      expect(usage).toMatch(new RegExp(`^ {2}--${name}(?: |$)`, 'm'));
      expect(parseSpec(table)[name]).toBeDefined();
      const notGiven = read([])[key];
      if (flag.kind === 'boolean') {
        expect(notGiven).toBe(false);
        expect(read([`--${name}`])[key]).toBe(true);
        return;
      }
      // Given its default, a flag reads as when it is not given; given another value, it reads otherwise.
      if (flag.default !== undefined)
        expect(read([`--${name}`, String(flag.default)])[key]).toEqual(notGiven);
      const sample = samples[flag.arg!];
      if (sample === undefined) throw new Error(`no sample value of ${flag.arg} for --${name}: add one`);
      expect(read([`--${name}`, sample])[key]).not.toEqual(notGiven);
    },
  );
});
