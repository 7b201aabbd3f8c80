import type { CniReply, CniRequest } from '../lib/cni/request.ts';
import { runShim, type ShimIo } from './shim.ts';
import { AgentUnreachableError, type Transport } from './transport.ts';

const config = {
  cniVersion: '0.3.1',
  name: 'multinet-cni-network',
  type: 'multinet-cni',
  socketPath: '/run/x.sock',
  stateDir: '/state',
  agentWaitSeconds: 2,
};
const env = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/p',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p',
};

function io(overrides: Partial<ShimIo> = {}): ShimIo & { out: string; slept: number } {
  let time = 0;
  const state = {
    out: '',
    slept: 0,
    env,
    stdin: JSON.stringify(config),
    stdout: (text: string) => void (state.out += text),
    stderr: () => undefined,
    exists: () => false,
    sleep: (ms: number) => {
      time += ms;
      state.slept += ms;
      return Promise.resolve();
    },
    now: () => time,
    ...overrides,
  };
  return state;
}

function transport(answer: (request: CniRequest) => CniReply | Error): Transport & { sent: CniRequest[] } {
  const sent: CniRequest[] = [];
  return {
    sent,
    send: (_socket, request) => {
      sent.push(request);
      const reply = answer(request);
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
    },
  };
}

describe('the CNI shim', () => {
  it('answers VERSION itself', async () => {
    const shimIo = io({ env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"0.4.0"}' });
    const t = transport(() => new Error('not called'));
    expect(await runShim(shimIo, t)).toBe(0);
    expect(JSON.parse(shimIo.out)).toEqual({
      cniVersion: '0.4.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    expect(t.sent).toHaveLength(0);
  });

  it('forwards ADD and prints the result in the request version', async () => {
    const shimIo = io();
    const t = transport(() => ({ result: { cniVersion: '1.0.0', ips: [{ address: '192.0.2.5/24' }] } }));
    expect(await runShim(shimIo, t)).toBe(0);
    expect(t.sent[0]).toMatchObject({
      command: 'ADD',
      containerId: 'c1',
      netns: '/var/run/netns/p',
      ifName: 'eth0',
      config,
    });
    expect(JSON.parse(shimIo.out)).toEqual({
      cniVersion: '0.3.1',
      ips: [{ address: '192.0.2.5/24', version: '4' }],
    });
  });

  it('prints the agent error as CNI error JSON and exits 1', async () => {
    const shimIo = io();
    const code = await runShim(
      shimIo,
      transport(() => ({ error: { cniVersion: '1.1.0', code: 7, msg: 'bad network' } })),
    );
    expect(code).toBe(1);
    expect(JSON.parse(shimIo.out)).toEqual({ cniVersion: '0.3.1', code: 7, msg: 'bad network' });
  });

  it('rejects a bad environment with code 4 without calling the agent', async () => {
    const shimIo = io({ env: { ...env, CNI_IFNAME: '' } });
    expect(
      await runShim(
        shimIo,
        transport(() => new Error('not called')),
      ),
    ).toBe(1);
    expect(JSON.parse(shimIo.out)).toMatchObject({ code: 4, msg: 'CNI_IFNAME is required for ADD' });
  });

  it('waits a bounded time for an unreachable agent on ADD, then fails with code 11', async () => {
    const shimIo = io();
    const t = transport(() => new AgentUnreachableError('ENOENT /run/x.sock'));
    expect(await runShim(shimIo, t)).toBe(1);
    expect(shimIo.slept).toBeGreaterThanOrEqual(2000);
    expect(JSON.parse(shimIo.out)).toMatchObject({
      code: 11,
      msg: expect.stringContaining('not reachable at /run/x.sock (waited 2 s)'),
    });
  });

  it('succeeds once the agent comes back', async () => {
    const shimIo = io();
    let attempts = 0;
    const t = transport(() =>
      ++attempts < 3 ? new AgentUnreachableError('ECONNREFUSED') : { result: { cniVersion: '0.3.1' } },
    );
    expect(await runShim(shimIo, t)).toBe(0);
    expect(attempts).toBe(3);
  });

  it('DEL succeeds at once when the agent recorded nothing, and waits then fails when it did', async () => {
    const unreachable = transport(() => new AgentUnreachableError('ENOENT'));
    const nothing = io({ env: { ...env, CNI_COMMAND: 'DEL' } });
    expect(await runShim(nothing, unreachable)).toBe(0);
    expect(nothing.slept).toBe(0);
    const recorded = io({
      env: { ...env, CNI_COMMAND: 'DEL' },
      exists: (p) => p === '/state/attachments/c1_eth0.json',
    });
    expect(await runShim(recorded, unreachable)).toBe(1);
    expect(JSON.parse(recorded.out)).toMatchObject({ code: 11 });
  });

  it('reports other transport failures as I/O errors', async () => {
    const shimIo = io();
    expect(
      await runShim(
        shimIo,
        transport(() => new Error('socket hang up')),
      ),
    ).toBe(1);
    expect(JSON.parse(shimIo.out)).toMatchObject({ code: 5, msg: expect.stringContaining('socket hang up') });
  });
});
