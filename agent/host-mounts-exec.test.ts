import type { Exec, ExecRequest } from '../lib/ports.ts';
import { hostMountsExec } from './host-mounts-exec.ts';

function recording(seen: ExecRequest[]): Exec {
  return {
    run: (request) => {
      seen.push(request);
      return Promise.resolve({ code: 0, stdout: '{}', stderr: '', timedOut: false });
    },
  };
}

describe('hostMountsExec', () => {
  it("runs each plugin in the host's mount namespace, with the host paths and everything else unchanged", async () => {
    const seen: ExecRequest[] = [];
    const request: ExecRequest = {
      file: '/opt/cni/bin/flannel',
      env: { CNI_COMMAND: 'ADD', CNI_PATH: '/opt/cni/bin', CNI_NETNS: '/var/run/netns/cni-1' },
      stdin: '{"type":"flannel"}',
      timeoutMs: 5000,
    };
    const result = await hostMountsExec(recording(seen), '/usr/bin/nsenter', '/proc/1/ns/mnt').run(request);
    expect(result.stdout).toBe('{}');
    expect(seen).toEqual([
      {
        ...request,
        file: '/usr/bin/nsenter',
        args: ['--mount=/proc/1/ns/mnt', '--', '/opt/cni/bin/flannel'],
      },
    ]);
  });

  it('keeps the arguments a plugin is given after its path', async () => {
    const seen: ExecRequest[] = [];
    await hostMountsExec(recording(seen), '/usr/bin/nsenter', '/proc/1/ns/mnt').run({
      file: '/bin/ip',
      args: ['-V'],
      env: {},
      timeoutMs: 1,
    });
    expect(seen[0]!.args).toEqual(['--mount=/proc/1/ns/mnt', '--', '/bin/ip', '-V']);
  });
});
