import type { Exec, ExecRequest } from '../lib/ports.ts';
import { hostRootExec } from './host-root-exec.ts';

describe('hostRootExec', () => {
  it('runs each plugin through chroot into the host root, with the host paths and everything else unchanged', async () => {
    const seen: ExecRequest[] = [];
    const inner: Exec = {
      run: (request) => {
        seen.push(request);
        return Promise.resolve({ code: 0, stdout: '{}', stderr: '', timedOut: false });
      },
    };
    const request: ExecRequest = {
      file: '/opt/cni/bin/flannel',
      env: { CNI_COMMAND: 'ADD', CNI_PATH: '/opt/cni/bin', CNI_NETNS: '/var/run/netns/cni-1' },
      stdin: '{"type":"flannel"}',
      timeoutMs: 5000,
    };
    const result = await hostRootExec(inner, '/hostroot', '/usr/sbin/chroot').run(request);
    expect(result.stdout).toBe('{}');
    expect(seen).toEqual([
      { ...request, file: '/usr/sbin/chroot', args: ['/hostroot', '/opt/cni/bin/flannel'] },
    ]);
  });

  it('keeps the arguments a plugin is given after its path', async () => {
    const seen: ExecRequest[] = [];
    const inner: Exec = {
      run: (r) => (seen.push(r), Promise.resolve({ code: 0, stdout: '', stderr: '', timedOut: false })),
    };
    await hostRootExec(inner, '/hostroot', '/usr/sbin/chroot').run({
      file: '/bin/ip',
      args: ['-V'],
      env: {},
      timeoutMs: 1,
    });
    expect(seen[0]!.args).toEqual(['/hostroot', '/bin/ip', '-V']);
  });
});
