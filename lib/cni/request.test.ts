import { formatCniArgs, parseCniArgs, podArgsFrom } from './args.ts';
import { CniError } from './error.ts';
import { cniRequestFromEnvironment, parseCniRequest } from './request.ts';

const env = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/p1',
  CNI_IFNAME: 'eth0',
  CNI_ARGS:
    'K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1',
  CNI_PATH: '/opt/cni/bin',
};

describe('CNI requests', () => {
  it('reads the environment and stdin, and survives the wire', () => {
    const request = cniRequestFromEnvironment(
      env,
      '{"cniVersion":"1.0.0","name":"multinet","type":"multinet-cni"}',
    );
    expect(request).toMatchObject({
      command: 'ADD',
      containerId: 'abc123',
      ifName: 'eth0',
      config: { name: 'multinet' },
    });
    expect(parseCniRequest(JSON.parse(JSON.stringify(request)))).toEqual(request);
  });

  it.each([
    [{ ...env, CNI_COMMAND: 'MOVE' }, 'CNI_COMMAND must be one of ADD, DEL, CHECK, STATUS, GC, VERSION'],
    [{ ...env, CNI_CONTAINERID: '' }, 'CNI_CONTAINERID is required for ADD'],
    [{ ...env, CNI_CONTAINERID: '-bad' }, 'must be alphanumeric'],
    [{ ...env, CNI_IFNAME: 'a/b' }, 'CNI_IFNAME "a/b" must not contain \'/\''],
    [{ ...env, CNI_NETNS: '' }, 'CNI_NETNS is required for ADD'],
    [{ ...env, CNI_PATH: '' }, 'CNI_PATH is required for ADD'],
  ])('rejects a bad environment (%#) with code 4', (bad, message) => {
    try {
      cniRequestFromEnvironment(bad, '{}');
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(4);
      expect((err as CniError).message).toContain(message);
    }
  });

  it('allows DEL without a netns and VERSION without anything', () => {
    expect(cniRequestFromEnvironment({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: '' }, '{}').command).toBe(
      'DEL',
    );
    expect(cniRequestFromEnvironment({ CNI_COMMAND: 'VERSION' }, '').command).toBe('VERSION');
  });

  it('rejects stdin that is not a JSON object with code 6', () => {
    expect(() => cniRequestFromEnvironment(env, 'nope')).toThrow(
      expect.objectContaining({ code: 6 }) as Error,
    );
    expect(() => cniRequestFromEnvironment(env, '[]')).toThrow(expect.objectContaining({ code: 6 }) as Error);
  });
});

describe('CNI_ARGS', () => {
  it('parses and prints KEY=VALUE pairs', () => {
    const args = parseCniArgs(env.CNI_ARGS);
    expect(podArgsFrom(args)).toEqual({
      namespace: 'default',
      name: 'samplepod',
      infraContainerId: 'abc123',
      uid: 'u-1',
    });
    expect(parseCniArgs(formatCniArgs(args))).toEqual(args);
    expect(parseCniArgs('IgnoreUnknown=1;;A=')).toEqual({ IgnoreUnknown: '1', A: '' });
  });

  it('rejects malformed pairs and unprintable values', () => {
    expect(() => parseCniArgs('novalue')).toThrow('is not KEY=VALUE');
    expect(() => formatCniArgs({ A: 'x;y' })).toThrow('cannot pass');
    expect(podArgsFrom({ K8S_POD_NAME: 'x' })).toBeUndefined();
  });
});
