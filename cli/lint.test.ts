import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath, readFixture } from '../test/fixtures.ts';
import { runCli } from './commands.ts';
import type { CliIo } from './io.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function memoryIo(files: Record<string, string> = {}): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
    readInput: (path: string) =>
      path in files
        ? Promise.resolve(files[path]!)
        : Promise.reject(new Error(`ENOENT: no such file ${path}`)),
  };
  return io;
}

async function run(
  argv: string[],
  files: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo(files);
  const code = await runCli(argv, { io, env: {}, signal: new AbortController().signal });
  return { code, out: io.out, err: io.err };
}

const seedNad = readFixture('seed', 'macvlan-conf.nad.yaml');

describe('multinet lint nad', () => {
  it('exits 0 on the seed NAD', async () => {
    expect(await run(['lint', 'nad', 'seed.yaml'], { 'seed.yaml': seedNad })).toMatchObject({
      code: 0,
      out: '',
    });
  });

  it('prints FILE: name: path: message per problem and exits 1', async () => {
    const broken = seedNad.replace('192.168.1.216', '192.168.2.216').replace('"eth0"', '"eth 0"');
    const result = await run(['lint', 'nad', 'good.yaml', 'bad.yaml'], {
      'good.yaml': seedNad,
      'bad.yaml': broken,
    });
    expect(result.code).toBe(1);
    expect(result.out.trim().split('\n')).toEqual([
      `bad.yaml: macvlan-conf: spec.config.master: "eth 0" must not contain '/', ':' or whitespace`,
      'bad.yaml: macvlan-conf: spec.config.ipam.rangeEnd: "192.168.2.216" is not inside subnet "192.168.1.0/24"',
    ]);
    expect(result.err).toBe('2 checked, 1 invalid\n');
  });

  it('checks every document of a multi-document file and prints JSON with --json', async () => {
    const text = `${seedNad}\n---\n${readFixture('nads', 'invalid', 'vlan-id.yaml')}`;
    const result = await run(['lint', 'nad', '--json', 'all.yaml'], { 'all.yaml': text });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toEqual([
      {
        file: 'all.yaml',
        name: 'macvlan-conf',
        namespace: 'default',
        valid: true,
        problems: [],
        warnings: [],
      },
      {
        file: 'all.yaml',
        name: 'bad-vlan',
        valid: false,
        problems: [{ path: 'spec.config.vlanId', message: 'must be <= 4094' }],
        warnings: [],
      },
    ]);
  });

  it('says so when a file holds no NAD', async () => {
    const result = await run(['lint', 'nad', 'pod.yaml'], {
      'pod.yaml': readFixture('seed', 'samplepod.yaml'),
    });
    expect(result).toMatchObject({
      code: 1,
      out: 'pod.yaml: -: kind: no NetworkAttachmentDefinition found (found Pod)\n',
    });
  });

  it('exits 2 on usage errors and unreadable files', async () => {
    expect((await run(['lint', 'nad'])).code).toBe(2);
    expect((await run(['lint', 'nad', '--bogus', 'x'])).err).toContain("Unknown option '--bogus'");
    expect(await run(['lint', 'nad', 'missing.yaml'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('missing.yaml: cannot read'),
    });
    expect((await run(['lint', 'what'])).code).toBe(2);
  });
});

describe('multinet lint annotation', () => {
  it('rejects what the webhook and the agent reject: an explicit net1 after an automatic one', async () => {
    const result = await run(['lint', 'annotation', 'a,b@net1']);
    expect(result).toMatchObject({
      code: 1,
      err: 'networks[1] "default/b": interface "net1" is already taken by networks[0] "default/a"; choose another interface name\n',
    });
  });

  it('prints the normalized elements', async () => {
    const result = await run(['lint', 'annotation', '--namespace', 'pods', 'macvlan-conf, infra/san@san0']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual([
      { name: 'macvlan-conf', namespace: 'pods' },
      { name: 'san', namespace: 'infra', interface: 'san0' },
    ]);
  });

  it('prints each problem and exits 1', async () => {
    const result = await run(['lint', 'annotation', '[{"name":"a","mac":"xx"},{"name":"B"}]']);
    expect(result).toMatchObject({
      code: 1,
      err: 'networks[0].mac: "xx" is not a MAC address of 6 bytes, e.g. "c2:b0:57:49:47:f1"\nnetworks[1].name: "B" must be a DNS-1123 label: lower case alphanumeric characters or \'-\', starting and ending with an alphanumeric character\n',
    });
  });
});

describe('the real multinet binary', () => {
  const multinet = (args: string[], input?: string | Buffer): ReturnType<typeof spawnSync> =>
    spawnSync(join(root, 'bin', 'multinet'), args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

  it('lints the seed fixture from a file and from stdin', () => {
    expect(multinet(['lint', 'nad', fixturePath('seed', 'macvlan-conf.nad.yaml')]).status).toBe(0);
    expect(multinet(['lint', 'nad', '-'], seedNad).status).toBe(0);
  });

  it.each([
    ['binary garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    ['a 10 MB string', `spec:\n  config: '${'x'.repeat(10 * 1024 * 1024)}'\n`],
    ['deeply nested JSON', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    [
      'a NAD with a 10 MB config',
      seedNad.replace('"cniVersion"', `"pad": "${'y'.repeat(10 * 1024 * 1024)}", "cniVersion"`),
    ],
  ])('answers %s with a clear error, never a stack trace', (_what, input) => {
    const result = multinet(['lint', 'nad', '-'], input);
    expect(result.status).toBe(1);
    expect(String(result.stdout)).toMatch(/^<stdin>: /);
    expect(`${String(result.stdout)}${String(result.stderr)}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it('answers a 10 MB annotation on stdin with a clear error', () => {
    const result = multinet(['lint', 'annotation', '-'], 'a'.repeat(10 * 1024 * 1024));
    expect(result.status).toBe(1);
    expect(String(result.stderr)).toBe('networks: is larger than 262144 bytes\n');
  });
});
