import { spawn } from 'node:child_process';
import { eventually, eventuallyWhileRunning } from './eventually.ts';

describe('eventually', () => {
  it('returns the first value that is neither undefined nor false, retrying what throws', async () => {
    let calls = 0;
    const value = await eventually(
      'the third call',
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not yet');
        return calls === 3 ? 'done' : false;
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('names what it waited for and the last error when it times out', async () => {
    await expect(
      eventually(
        'the sky to fall',
        () => {
          throw new Error('still up');
        },
        { timeoutMs: 20, intervalMs: 5 },
      ),
    ).rejects.toThrow(/timed out after 20 ms waiting for the sky to fall \(last error: still up\)/);
  });
});

describe('eventuallyWhileRunning', () => {
  it('fails as soon as the process exits, with its detail, long before the timeout', async () => {
    const child = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    const started = Date.now();
    await expect(
      eventuallyWhileRunning(child, 'a condition that never holds', () => false, {
        timeoutMs: 60_000,
        intervalMs: 10,
        detail: () => 'the log',
      }),
    ).rejects.toThrow(/exit(ed)? \(exit 3\) .*a condition that never holds:\nthe log/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('returns what the probe found while the process runs', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await expect(eventuallyWhileRunning(child, 'a value', () => 42, { intervalMs: 1 })).resolves.toBe(42);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
