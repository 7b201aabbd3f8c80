/**
 * The agent's side of the spawner protocol, against the spawner built from spawner/ (real processes):
 * runs, timeouts that kill the process group, the fallback to Node's spawn when the spawner is missing,
 * and a spawner that dies: its runs fail and die with it, runs fall back, it comes back.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { spawnerPath } from '../../dev/go-programs.ts';
import { eventually } from '../../dev/eventually.ts';
import type { Exec, ExecRequest, ExecResult } from '../../lib/ports.ts';
import { createLogger } from '../log.ts';
import { nodeExec } from './exec.ts';
import { processEnded } from './orphans.ts';
import { SpawnerExec } from './spawner-exec.ts';

/** Node's spawn, recording which runs reached it. */
class RecordingExec implements Exec {
  readonly files: string[] = [];
  private readonly exec = nodeExec({ killGroup: (pid, signal) => process.kill(-pid, signal) });
  run(request: ExecRequest): Promise<ExecResult> {
    this.files.push(request.file);
    return this.exec.run(request);
  }
}

interface Setup {
  readonly spawner: SpawnerExec;
  readonly fallback: RecordingExec;
  /** Logged entries as JSON objects. */
  readonly logged: Array<{ level: string; message: string; [key: string]: unknown }>;
}

let dir: string;
const stops: Array<() => Promise<void>> = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'multinet-spawner-'));
});

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(file = spawnerPath()): Setup {
  const stream = new PassThrough();
  const logged: Setup['logged'] = [];
  stream.setEncoding('utf8').on('data', (line: string) => {
    for (const part of line.split('\n').filter(Boolean)) logged.push(JSON.parse(part) as never);
  });
  const fallback = new RecordingExec();
  const spawner = new SpawnerExec({
    file,
    fallback,
    log: createLogger({ level: 'info', format: 'json', stream }),
    restartDelaysMs: [100, 200],
  });
  stops.push(() => spawner.stop());
  return { spawner, fallback, logged };
}

const sh = (script: string, ...args: string[]): Pick<ExecRequest, 'file' | 'args'> => ({
  file: '/bin/sh',
  args: ['-c', script, ...args],
});

const running = (pid: number): boolean => !processEnded(pid);

async function pidIn(file: string): Promise<number> {
  return eventually(
    `${file} to be written`,
    () => {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return text.endsWith('\n') ? Number(text) : undefined;
    },
    { timeoutMs: 10_000 },
  );
}

describe('SpawnerExec', () => {
  it('runs a file through the spawner with exactly the given env and stdin', async () => {
    const { spawner, fallback } = setup();
    expect(await spawner.start()).toBe(true);
    expect(spawner.pid).toEqual(expect.any(Number));
    const result = await spawner.run({
      ...sh('cat; echo to stderr >&2; exit 3'),
      env: {},
      stdin: '{"cniVersion":"1.0.0"}',
      timeoutMs: 10_000,
    });
    expect(result).toEqual({
      code: 3,
      stdout: '{"cniVersion":"1.0.0"}',
      stderr: 'to stderr\n',
      timedOut: false,
      maxRssKiB: expect.any(Number),
    });
    expect(result.maxRssKiB).toBeGreaterThan(0);
    const env = await spawner.run({ file: '/usr/bin/env', env: { CNI_COMMAND: 'ADD' }, timeoutMs: 10_000 });
    expect(env).toMatchObject({ code: 0, stdout: 'CNI_COMMAND=ADD\n' });
    expect(fallback.files).toEqual([]);
  });

  it('runs side by side, each answer to its own request', async () => {
    const { spawner } = setup();
    await spawner.start();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        spawner.run({ ...sh('sleep 0.05; echo "$0"', String(i)), env: {}, timeoutMs: 10_000 }),
      ),
    );
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
  });

  it('kills the process group of a run that outlives its timeout', async () => {
    const { spawner } = setup();
    await spawner.start();
    const pidFile = join(dir, 'timeout-pid');
    const result = await spawner.run({
      ...sh('sleep 100 & echo $! >"$0"; wait', pidFile),
      env: {},
      timeoutMs: 300,
    });
    expect(result).toMatchObject({ code: null, timedOut: true });
    const grandchild = await pidIn(pidFile);
    await eventually('the background sleep to end', () => (running(grandchild) ? undefined : true));
  });

  it('answers a file it cannot execute as Node does, with code 127', async () => {
    const { spawner } = setup();
    await spawner.start();
    const result = await spawner.run({ file: join(dir, 'no-such-plugin'), env: {}, timeoutMs: 10_000 });
    expect(result).toEqual({
      code: 127,
      stdout: '',
      stderr: expect.stringContaining(`cannot execute ${join(dir, 'no-such-plugin')}`),
      timedOut: false,
    });
  });

  it('falls back to Node, loudly, when the spawner is missing', async () => {
    const missing = join(dir, 'no-spawner-here');
    const { spawner, fallback, logged } = setup(missing);
    expect(await spawner.start()).toBe(false);
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining("plugins are started by the agent's own Node.js spawn"),
        spawner: missing,
        reason: expect.stringContaining('ENOENT'),
      }),
    );
    const result = await spawner.run({ ...sh('echo via node'), env: {}, timeoutMs: 10_000 });
    expect(result).toMatchObject({ code: 0, stdout: 'via node\n' });
    expect(fallback.files).toEqual(['/bin/sh']);
  });

  it('fails the runs of a spawner that dies, kills them with it, falls back and restarts it', async () => {
    const { spawner, fallback, logged } = setup();
    await spawner.start();
    const first = spawner.pid!;
    const pidFile = join(dir, 'died-pid');
    const run = spawner.run({ ...sh('echo $$ >"$0"; exec sleep 100', pidFile), env: {}, timeoutMs: 60_000 });
    const plugin = await pidIn(pidFile);
    process.kill(first, 'SIGKILL');
    expect(await run).toEqual({
      code: null,
      stdout: '',
      stderr: expect.stringContaining(`the plugin spawner (pid ${first}) exited (SIGKILL) while this ran`),
      timedOut: false,
    });
    await eventually('its run to end', () => (running(plugin) ? undefined : true));
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining('the plugin spawner died'),
        signal: 'SIGKILL',
        failedRuns: 1,
      }),
    );
    // Until it is back, runs go to Node's spawn.
    await spawner.run({ ...sh('true'), env: {}, timeoutMs: 10_000 });
    expect(fallback.files).toEqual(['/bin/sh']);
    const second = await eventually('the spawner to be restarted', () => spawner.pid, { timeoutMs: 10_000 });
    expect(second).not.toBe(first);
    expect(await spawner.run({ ...sh('echo back'), env: {}, timeoutMs: 10_000 })).toMatchObject({
      stdout: 'back\n',
    });
    expect(fallback.files).toEqual(['/bin/sh']);
  });

  it('ends the spawner and the runs still going on stop', async () => {
    const { spawner } = setup();
    await spawner.start();
    const pid = spawner.pid!;
    const pidFile = join(dir, 'stop-pid');
    const run = spawner.run({ ...sh('echo $$ >"$0"; exec sleep 100', pidFile), env: {}, timeoutMs: 60_000 });
    const plugin = await pidIn(pidFile);
    await spawner.stop();
    expect(running(pid)).toBe(false);
    expect(await run).toMatchObject({ code: null });
    await eventually('its run to end', () => (running(plugin) ? undefined : true));
  });
});
