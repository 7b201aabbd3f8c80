/** Processes found by their environment and ended: a marked process, what it started, not others. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { systemClock } from './clock.ts';
import { endProcessesWithEnv, processesWithEnv } from './orphans.ts';

const mark = `MULTINET_TEST_MARK_${process.pid}`;

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until the child printed n lines (the pids it started). */
function pidsFrom(child: ChildProcess, n: number): Promise<number[]> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split('\n').filter(Boolean);
      if (lines.length >= n) resolve(lines.slice(0, n).map(Number));
    });
  });
}

it('ends every process carrying the mark, also one that left its process group, and no other', async () => {
  const env = { PATH: '/usr/bin:/bin', [mark]: '/state/a' };
  // A "delegate" that starts a child in a session of its own (as a daemonizing IPAM could), then waits.
  const marked = spawn('sh', ['-c', 'setsid sleep 600 & echo $!; echo $$; exec sleep 600'], { env });
  const other = spawn('sleep', ['600'], { env: { PATH: '/usr/bin:/bin', [mark]: '/state/other-agent' } });
  try {
    const [grandchild, child] = await pidsFrom(marked, 2);
    expect(processesWithEnv(mark, '/state/a').sort()).toEqual([child!, grandchild!].sort());
    const ended = await endProcessesWithEnv(mark, '/state/a', {
      kill: (pid) => process.kill(pid, 'SIGKILL'),
      clock: systemClock,
    });
    expect(ended.sort()).toEqual([child!, grandchild!].sort());
    expect([alive(child!), alive(grandchild!), alive(other.pid!)]).toEqual([false, false, true]);
    expect(processesWithEnv(mark, '/state/a')).toEqual([]);
  } finally {
    marked.kill('SIGKILL');
    other.kill('SIGKILL');
    for (const pid of processesWithEnv(mark, '/state/a')) process.kill(pid, 'SIGKILL');
  }
});

it('spares the marked processes that still descend from the live process their starter variable names', async () => {
  const starter = `${mark}_STARTER`;
  // Started by this (live) process: the work of an agent still running beside the one that sweeps.
  const running = spawn('sh', ['-c', 'sleep 600 & echo $!; wait'], {
    env: { PATH: '/usr/bin:/bin', [mark]: '/state/b', [starter]: String(process.pid) },
  });
  // Names a starter that is not its ancestor (the pid of an unrelated process): an orphan.
  const unrelated = spawn('sleep', ['600']);
  const orphan = spawn('sh', ['-c', 'sleep 600 & echo $!; wait'], {
    env: { PATH: '/usr/bin:/bin', [mark]: '/state/b', [starter]: String(unrelated.pid) },
  });
  try {
    const [runningChild] = await pidsFrom(running, 1);
    const [orphanChild] = await pidsFrom(orphan, 1);
    const ended = await endProcessesWithEnv(mark, '/state/b', {
      kill: (pid) => process.kill(pid, 'SIGKILL'),
      clock: systemClock,
      starterVariable: starter,
    });
    expect(ended.sort()).toEqual([orphan.pid!, orphanChild!].sort());
    expect([alive(running.pid!), alive(runningChild!), alive(orphanChild!)]).toEqual([true, true, false]);
  } finally {
    for (const child of [running, unrelated, orphan]) child.kill('SIGKILL');
    for (const pid of processesWithEnv(mark, '/state/b')) process.kill(pid, 'SIGKILL');
  }
});
