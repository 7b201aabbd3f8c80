import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shimPath } from '../dev/go-programs.ts';
import { nodeExec } from '../platform/nodejs/exec.ts';
import { nodeFileSystem } from '../platform/nodejs/fs.ts';
import { multinetVersion } from '../platform/version.ts';
import { parseShimVersion, shimInspector } from './shim-installer.ts';

describe('which CNI shim the node has', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'multinet-shim-inspect-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const inspect = (installed: string, source: string | undefined = shimPath()) =>
    shimInspector(nodeFileSystem, nodeExec(), { installed, source, agentVersion: multinetVersion })();

  it("is the agent's own when it has the content of the one the agent installs", async () => {
    const installed = join(dir, 'multinet-cni');
    copyFileSync(shimPath(), installed);
    expect(await inspect(installed)).toEqual({
      path: installed,
      version: multinetVersion,
      matchesAgent: true,
    });
  });

  it("is told by `--version` otherwise: this build's, another release's, one that names none", async () => {
    const installed = join(dir, 'multinet-cni');
    copyFileSync(shimPath(), installed);
    expect(await inspect(installed, undefined)).toEqual({
      path: installed,
      version: multinetVersion,
      matchesAgent: true,
    });
    const other = join(dir, 'other');
    writeFileSync(other, '#!/bin/sh\necho "multinet-cni 0.0.9 protocol 1"\n', { mode: 0o755 });
    expect(await inspect(other)).toEqual({ path: other, version: '0.0.9', matchesAgent: false });
    const old = join(dir, 'old');
    writeFileSync(old, '#!/bin/sh\necho \'{"code":6}\'; exit 1\n', { mode: 0o755 });
    expect(await inspect(old)).toMatchObject({
      path: old,
      version: '',
      matchesAgent: false,
      error: expect.stringContaining('names no version'),
    });
  });

  it('is missing when no file is installed', async () => {
    const missing = join(dir, 'nothing');
    expect(await inspect(missing)).toEqual({
      path: missing,
      version: '',
      matchesAgent: false,
      error: 'not installed',
    });
  });

  it('reads only the version line', () => {
    expect(parseShimVersion('multinet-cni 0.2.0 protocol 1\n')).toBe('0.2.0');
    expect(parseShimVersion('{"cniVersion":"1.0.0"}')).toBeUndefined();
  });
});
