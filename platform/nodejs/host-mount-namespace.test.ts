/**
 * findHostMountNamespace over a fake /proc tree (files and symlinks like the kernel's): the nearest
 * ancestor in another mount namespace that may be opened, or "here", or why it cannot be told.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findHostMountNamespace } from './host-mount-namespace.ts';

let proc: string;
beforeEach(() => (proc = mkdtempSync(join(tmpdir(), 'multinet-proc-'))));
afterEach(() => rmSync(proc, { recursive: true, force: true }));

/** A process: its parent and its mount namespace ("unreadable": a link we may not follow or open). */
function fakeProcess(pid: number, ppid: number, mnt: string, comm = 'x'): void {
  mkdirSync(join(proc, String(pid), 'ns'), { recursive: true });
  writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1\n`);
  if (mnt !== 'unreadable') {
    writeFileSync(join(proc, String(pid), 'ns', `target-${mnt}`), '');
    symlinkSync(`target-${mnt}`, join(proc, String(pid), 'ns', 'mnt'));
  }
}

describe('findHostMountNamespace', () => {
  it("finds the runtime's shim above a hostPID container's agent", async () => {
    fakeProcess(1, 0, 'unreadable', 'init');
    fakeProcess(40, 1, 'host', 'containerd');
    fakeProcess(77, 1, 'host', 'containerd-shim-runc-v2');
    fakeProcess(90, 77, 'container', 'node (multinet) agent');
    expect(await findHostMountNamespace(90, proc)).toEqual({
      kind: 'ancestor',
      path: join(proc, '77', 'ns', 'mnt'),
      pid: 77,
    });
  });

  it('says "here" for an agent that runs as a host process', async () => {
    fakeProcess(1, 0, 'unreadable', 'init');
    fakeProcess(10, 1, 'host', 'bash');
    fakeProcess(11, 10, 'host', 'node');
    expect(await findHostMountNamespace(11, proc)).toEqual({ kind: 'here' });
  });

  it('cannot tell from a container without hostPID (the agent is PID 1 of its PID namespace)', async () => {
    fakeProcess(1, 0, 'container', 'node');
    expect(await findHostMountNamespace(1, proc)).toEqual({
      kind: 'unknown',
      reason: expect.stringContaining('hostPID: true'),
    });
  });
});
