/**
 * How a delegate's failure reads, with real plugin processes (shell scripts) run by the real Exec port:
 * a plugin killed by a signal names the signal, and an error answer without a real code gets one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkConfigFrom } from '../lib/cni/config.ts';
import { CniError } from '../lib/cni/error.ts';
import { nodeExec } from '../platform/nodejs/exec.ts';
import { nodeFileSystem } from '../platform/nodejs/fs.ts';
import { silentLog } from '../test/test-agent.ts';
import { DelegateRunner } from './delegate-runner.ts';

/** A plugin that answers VERSION and does `body` for every other command. */
function plugin(dir: string, name: string, body: string): void {
  writeFileSync(
    join(dir, name),
    `#!/bin/sh\nif [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'; exit 0; fi\n${body}\n`,
    { mode: 0o755 },
  );
}

describe('a delegate that fails', () => {
  let dir: string;
  let runner: DelegateRunner;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-delegates-'));
    runner = new DelegateRunner({
      exec: nodeExec(),
      fs: nodeFileSystem,
      binDirs: [dir],
      timeoutMs: 10_000,
      baseEnv: { PATH: '/usr/bin:/bin' },
      log: silentLog,
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const add = (type: string): Promise<unknown> =>
    runner.add(
      { name: 'default/n', config: networkConfigFrom({ cniVersion: '1.0.0', name: 'n', type }) },
      { containerId: 'c1', netns: '/run/netns/x', ifName: 'net1', args: {} },
      {},
    );

  it('killed by a signal: the error names the signal', async () => {
    plugin(dir, 'killed', 'cat >/dev/null; kill -KILL $$');
    const error = (await add('killed').catch((err: unknown) => err)) as CniError;
    expect(error).toBeInstanceOf(CniError);
    expect([error.code, error.message]).toEqual([
      5,
      'network default/n: plugin "killed" of network default/n failed ADD (killed by SIGKILL)',
    ]);
  });

  it('answering CNI error code 0: the error carries a real code and says what the plugin gave', async () => {
    plugin(dir, 'zero', `cat >/dev/null; echo '{"cniVersion":"1.0.0","code":0,"msg":"no room"}'; exit 1`);
    const error = (await add('zero').catch((err: unknown) => err)) as CniError;
    expect([error.code, error.message, error.details]).toEqual([
      5,
      'network default/n: no room',
      'the plugin answered error code 0, which is no CNI error code',
    ]);
  });

  it('answering a real code: passed on as it is', async () => {
    plugin(dir, 'busy', `cat >/dev/null; echo '{"cniVersion":"1.0.0","code":11,"msg":"busy"}'; exit 1`);
    const error = (await add('busy').catch((err: unknown) => err)) as CniError;
    expect([error.code, error.message]).toEqual([11, 'network default/n: busy']);
  });
});
