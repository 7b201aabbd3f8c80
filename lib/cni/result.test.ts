import { CniError } from './error.ts';
import { convertCniResult, parseCniResult } from './result.ts';

const v1 = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'mnbr0', mac: '0a:58:c0:00:02:01' },
    { name: 'veth1', mac: '0a:58:c0:00:02:02' },
    { name: 'eth0', mac: '0a:58:c0:00:02:03', sandbox: '/var/run/netns/p1', mtu: 1500 },
  ],
  ips: [
    { address: '192.0.2.5/24', gateway: '192.0.2.1', interface: 2 },
    { address: '2001:db8::5/64', interface: 2 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '192.0.2.1', mtu: 1400, priority: 10 }],
  dns: { nameservers: ['192.0.2.53'] },
};

describe('CNI results', () => {
  it('converts 1.x to 0.3.x/0.4.0 (ips get a version, 1.x-only fields go) and back', () => {
    const old = convertCniResult(parseCniResult(v1), '0.3.1');
    expect(old.cniVersion).toBe('0.3.1');
    expect(old.ips).toEqual([
      { address: '192.0.2.5/24', gateway: '192.0.2.1', interface: 2, version: '4' },
      { address: '2001:db8::5/64', interface: 2, version: '6' },
    ]);
    expect(old.routes).toEqual([{ dst: '0.0.0.0/0', gw: '192.0.2.1' }]);
    expect(old.interfaces![2]).toEqual({
      name: 'eth0',
      mac: '0a:58:c0:00:02:03',
      sandbox: '/var/run/netns/p1',
    });
    const back = convertCniResult(parseCniResult(old), '1.1.0');
    expect(back.ips).toEqual(v1.ips);
    expect(back.cniVersion).toBe('1.1.0');
  });

  it('takes the expected version when the result has none', () => {
    expect(parseCniResult({ ips: [] }, '0.4.0').cniVersion).toBe('0.4.0');
  });

  it.each([
    [{ cniVersion: '0.2.0', ip4: { ip: '192.0.2.5/24' } }, 'CNI 0.2.0 result'],
    [{ cniVersion: '2.0.0' }, 'unsupported CNI result version "2.0.0"'],
    [{ cniVersion: '1.0.0', ips: [{ address: '192.0.2.5' }] }, 'ips[0].address is not a CIDR'],
    [
      { cniVersion: '1.0.0', interfaces: [], ips: [{ address: '192.0.2.5/24', interface: 0 }] },
      'ips[0].interface does not point',
    ],
    [{ cniVersion: '1.0.0', interfaces: [{}] }, 'interfaces[0] has no name'],
    ['nope', 'not a JSON object'],
  ])('rejects %j with a CniError', (value, message) => {
    expect(() => parseCniResult(value)).toThrow(CniError);
    expect(() => parseCniResult(value)).toThrow(message);
  });
});

describe('CniError', () => {
  it('reads a plugin error and prints the spec shape', () => {
    const err = CniError.fromOutput('{"code":7,"msg":"bad config","details":"x"}', 'fallback');
    expect(err.toJson('1.0.0')).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'bad config', details: 'x' });
  });

  it('gives an error answer without a real code (0, negative, fractional) the I/O-failure code', () => {
    for (const code of [0, -3, 1.5]) {
      const err = CniError.fromOutput(JSON.stringify({ code, msg: 'no room', details: 'd' }), 'fallback');
      expect(err.toJson('1.0.0')).toEqual({
        cniVersion: '1.0.0',
        code: 5,
        msg: 'no room',
        details: `d; the plugin answered error code ${code}, which is no CNI error code`,
      });
    }
  });

  it('quotes non-JSON output as an I/O failure', () => {
    const err = CniError.fromOutput('panic: boom\n', 'plugin macvlan failed');
    expect(err.toJson('0.4.0')).toEqual({
      cniVersion: '0.4.0',
      code: 5,
      msg: 'plugin macvlan failed',
      details: 'panic: boom',
    });
  });
});
