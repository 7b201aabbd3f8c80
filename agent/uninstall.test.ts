/** removeInstalled on real files in a temp dir: only the agent's own config and shim are removed. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../platform/log.ts';
import { nodeFileSystem } from '../platform/nodejs/fs.ts';
import { removeInstalled } from './uninstall.ts';

const log = createLogger({ level: 'error', format: 'json' });
let dir: string;
let files: Parameters<typeof removeInstalled>[1];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'multinet-uninstall-'));
  for (const d of ['net.d', 'bin', 'image']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'image', 'multinet-cni'), 'shim binary v2');
  files = {
    confDir: join(dir, 'net.d'),
    confFileName: '00-multinet.conflist',
    shimType: 'multinet-cni',
    shimPath: join(dir, 'bin', 'multinet-cni'),
    shimSource: join(dir, 'image', 'multinet-cni'),
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('removeInstalled', () => {
  it('removes the generated config and the shim it installed, and leaves the default network', async () => {
    writeFileSync(
      join(dir, 'net.d', '00-multinet.conflist'),
      JSON.stringify({ plugins: [{ type: 'multinet-cni' }] }),
    );
    writeFileSync(
      join(dir, 'net.d', '10-flannel.conflist'),
      JSON.stringify({ plugins: [{ type: 'flannel' }] }),
    );
    writeFileSync(files.shimPath, 'shim binary v2');
    expect(await removeInstalled(nodeFileSystem, files, log)).toEqual([
      join(dir, 'net.d', '00-multinet.conflist'),
      files.shimPath,
    ]);
    expect([existsSync(files.shimPath), existsSync(join(dir, 'net.d', '10-flannel.conflist'))]).toEqual([
      false,
      true,
    ]);
  });

  it("leaves a config under that name that is not multinet's, and a shim that is not the one it installs", async () => {
    writeFileSync(
      join(dir, 'net.d', '00-multinet.conflist'),
      JSON.stringify({ plugins: [{ type: 'bridge' }] }),
    );
    writeFileSync(files.shimPath, 'someone else’s binary');
    expect(await removeInstalled(nodeFileSystem, files, log)).toEqual([]);
    expect([existsSync(files.shimPath), existsSync(join(dir, 'net.d', '00-multinet.conflist'))]).toEqual([
      true,
      true,
    ]);
  });

  it('is content when there is nothing to remove', async () => {
    expect(await removeInstalled(nodeFileSystem, files, log)).toEqual([]);
  });
});
