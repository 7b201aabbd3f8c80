import { formatCniArgs, parseCniArgs, podArgsFrom } from './args.ts';
import { CniError } from './error.ts';
import { parseCniRequest } from './request.ts';

const env = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/p1',
  CNI_IFNAME: 'eth0',
  CNI_ARGS:
    'K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1',
  CNI_PATH: '/opt/cni/bin',
};

/** The request as the shim (cni/shim.go) puts the runtime's environment and stdin on the wire. */
function wire(vars: Partial<typeof env>, config: unknown = { cniVersion: '1.0.0' }): unknown {
  return JSON.parse(
    JSON.stringify({
      command: vars.CNI_COMMAND ?? '',
      containerId: vars.CNI_CONTAINERID ?? '',
      netns: vars.CNI_NETNS ?? '',
      ifName: vars.CNI_IFNAME ?? '',
      args: vars.CNI_ARGS ?? '',
      path: vars.CNI_PATH ?? '',
      config,
    }),
  );
}

describe('CNI requests', () => {
  it('reads what the shim forwards', () => {
    const request = parseCniRequest(
      wire(env, { cniVersion: '1.0.0', name: 'multinet', type: 'multinet-cni' }),
    );
    expect(request).toEqual({
      command: 'ADD',
      containerId: 'abc123',
      netns: '/var/run/netns/p1',
      ifName: 'eth0',
      args: env.CNI_ARGS,
      path: '/opt/cni/bin',
      config: { cniVersion: '1.0.0', name: 'multinet', type: 'multinet-cni' },
    });
  });

  it.each([
    [{ ...env, CNI_COMMAND: 'MOVE' }, 'CNI_COMMAND must be one of ADD, DEL, CHECK, STATUS, GC, VERSION'],
    [{ ...env, CNI_CONTAINERID: '' }, 'CNI_CONTAINERID is required for ADD'],
    [{ ...env, CNI_CONTAINERID: '-bad' }, 'must be alphanumeric'],
    [{ ...env, CNI_IFNAME: 'a/b' }, 'CNI_IFNAME "a/b" must not contain \'/\''],
    [{ ...env, CNI_NETNS: '' }, 'CNI_NETNS is required for ADD'],
    [{ ...env, CNI_PATH: '' }, 'CNI_PATH is required for ADD'],
    [
      { ...env, CNI_ARGS: 'K8S_POD_NAMESPACE=x;K8S_POD_NAME=/../../../escaped' },
      'CNI_ARGS K8S_POD_NAME "/../../../escaped" must be a DNS-1123 subdomain',
    ],
    [
      { ...env, CNI_ARGS: 'K8S_POD_NAMESPACE=..;K8S_POD_NAME=p' },
      'CNI_ARGS K8S_POD_NAMESPACE ".." must be a DNS-1123 label',
    ],
    [
      { ...env, CNI_ARGS: 'K8S_POD_NAMESPACE=a/b;K8S_POD_NAME=p' },
      'CNI_ARGS K8S_POD_NAMESPACE "a/b" must be a DNS-1123 label',
    ],
    [
      { ...env, CNI_ARGS: 'K8S_POD_INFRA_CONTAINER_ID=../x' },
      `CNI_ARGS K8S_POD_INFRA_CONTAINER_ID "../x" must be alphanumeric`,
    ],
    [{ ...env, CNI_ARGS: 'K8S_POD_NAME' }, 'CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE'],
    [{ ...env, CNI_NETNS: 'run/netns/x' }, 'CNI_NETNS "run/netns/x" must be an absolute path'],
    [{ ...env, CNI_COMMAND: 'DEL', CNI_ARGS: 'K8S_POD_NAME=a/../b' }, 'CNI_ARGS K8S_POD_NAME'],
  ])('rejects a bad environment (%#) with code 4', (bad, message) => {
    try {
      parseCniRequest(wire(bad));
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(4);
      expect((err as CniError).message).toContain(message);
    }
  });

  it('allows DEL without a netns and VERSION without anything', () => {
    expect(parseCniRequest(wire({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: '' })).command).toBe('DEL');
    expect(parseCniRequest(wire({ CNI_COMMAND: 'VERSION' }, {})).command).toBe('VERSION');
  });

  it('rejects a request that is not an object with an object config, with code 6', () => {
    for (const bad of [[], 'nope', wire(env, []), wire(env, 'text'), { command: 'ADD' }]) {
      expect(() => parseCniRequest(bad)).toThrow(expect.objectContaining({ code: 6 }) as Error);
    }
  });

  it('rejects fields of the wrong type with code 4', () => {
    expect(() => parseCniRequest({ ...(wire(env) as object), ifName: 7 })).toThrow('ifName must be a string');
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
