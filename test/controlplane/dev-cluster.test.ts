/** `multinet dev cluster`: starts a control plane, writes its kubeconfig, stops on abort. */
import { VersionApi } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as runProductCli, type CommandContext } from '../../cli/commands.ts';
import { harnessCommands } from '../../playground/commands.ts';

/** The CLI as a checkout's entry point runs it: the product's commands and the harness's. */
const runCli = (argv: readonly string[], context: CommandContext): Promise<number> =>
  runProductCli(argv, context, harnessCommands);
import { defaultCacheDir } from '../../dev/binaries.ts';
import { eventually } from '../../dev/eventually.ts';
import { kubeConfigFromYaml } from '../../dev/controlplane/kubeconfig.ts';

function context(signal: AbortSignal): CommandContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      readInput: () => Promise.reject(new Error('no input')),
    },
    env: { MULTINET_CACHE: defaultCacheDir(process.env, homedir()) },
    signal,
    process: { uid: process.getuid?.(), pid: process.pid, kill: (pid, sig) => process.kill(pid, sig) },
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'multinet-dev-cluster-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writes a working admin kubeconfig once ready and cleans up when the signal aborts', async () => {
  const file = join(dir, 'kubeconfig');
  const controller = new AbortController();
  const ctx = context(controller.signal);
  const run = runCli(['dev', 'cluster', '--kubeconfig-out', file, '--no-build'], ctx);
  try {
    await eventually('the kubeconfig', () => existsSync(file), 60_000).catch(() => {
      throw new Error(`no kubeconfig after 60 s: ${ctx.err.join('')}`);
    });
    const info = await kubeConfigFromYaml(await readFile(file, 'utf8'))
      .makeApiClient(VersionApi)
      .getCode();
    expect(info.gitVersion).toBe('v1.37.2');
    const printed = ctx.out.join('');
    expect(printed).toMatch(/^control plane ready: https:\/\/127\.0\.0\.1:\d+$/m);
    expect(printed).toContain(`export KUBECONFIG=${file}`);
    expect(printed).toContain(`${join(defaultCacheDir(process.env, homedir()), 'bin', 'kubectl')} version`);
  } finally {
    controller.abort(new Error('test done'));
  }
  await expect(run).resolves.toBe(0);
  expect(existsSync(file)).toBe(false);
  expect(ctx.err.join('')).toContain('[dev cluster] stopped');
}, 90_000);

test('usage errors exit 2', async () => {
  const ctx = context(new AbortController().signal);
  await expect(runCli(['dev', 'cluster'], ctx)).resolves.toBe(2);
  expect(ctx.err.join('')).toContain('--kubeconfig-out FILE is required');
  await expect(runCli(['dev', 'bogus'], ctx)).resolves.toBe(2);
  expect(ctx.err.join('')).toContain('unknown subcommand "bogus"');
  await expect(runCli(['dev', '--help'], ctx)).resolves.toBe(0);
  expect(ctx.out.join('')).toContain('multinet dev cluster --kubeconfig-out FILE');
});

test('an abort before the control plane is ready leaves nothing behind', async () => {
  const file = join(dir, 'kubeconfig');
  const controller = new AbortController();
  const ctx = context(controller.signal);
  const run = runCli(['dev', 'cluster', '--kubeconfig-out', file, '--no-build'], ctx);
  setTimeout(() => controller.abort(new Error('early')), 300);
  await expect(run).resolves.toBe(0);
  expect(existsSync(file)).toBe(false);
  expect(ctx.err.join('')).toContain('interrupted before the control plane was ready');
});
