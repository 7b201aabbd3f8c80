import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cgroupMemoryLimit, residentBytes } from './memory-limit.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'multinet-memory-limit-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

const paths = (): { proc: string; cgroupMount: string } => ({
  proc: join(root, 'proc'),
  cgroupMount: join(root, 'cgroup'),
});

describe('cgroupMemoryLimit', () => {
  it("reads cgroup v2's memory.max, the lowest of the cgroup and its ancestors", () => {
    put('proc/self/cgroup', '0::/kubepods/pod1/agent\n');
    put('cgroup/cgroup.controllers', 'cpu memory pids\n');
    put('cgroup/kubepods/pod1/agent/memory.max', '536870912\n');
    put('cgroup/kubepods/pod1/memory.max', '268435456\n');
    put('cgroup/kubepods/memory.max', 'max\n');
    expect(cgroupMemoryLimit(paths())).toBe(268435456);
  });

  it("reads cgroup v1's memory.limit_in_bytes; a container sees its own cgroup at the mount's root", () => {
    put('proc/self/cgroup', '5:cpu,cpuacct:/kubepods/x\n4:memory:/kubepods/burstable/pod1/abc\n');
    put('cgroup/memory/memory.limit_in_bytes', '536870912\n');
    expect(cgroupMemoryLimit(paths())).toBe(536870912);
  });

  it('has none where nothing is limited or nothing can be read', () => {
    put('proc/self/cgroup', '4:memory:/\n0::/\n');
    put('cgroup/memory/memory.limit_in_bytes', '9223372036854771712\n');
    expect(cgroupMemoryLimit(paths())).toBeUndefined();
    expect(cgroupMemoryLimit({ proc: join(root, 'nowhere') })).toBeUndefined();
  });
});

describe('residentBytes', () => {
  it('sums VmRSS of the processes that are there', () => {
    put('proc/self/status', 'Name:\tnode\nVmHWM:\t   70000 kB\nVmRSS:\t   65536 kB\n');
    put('proc/42/status', 'Name:\tmultinet-spawne\nVmRSS:\t    4096 kB\n');
    expect(residentBytes(['self', 42, 43], join(root, 'proc'))).toBe((65536 + 4096) * 1024);
  });
});
