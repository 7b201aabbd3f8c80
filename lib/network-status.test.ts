import { readFixture } from '../test/fixtures.ts';
import { networkStatusFromResult, parseNetworkStatusAnnotation } from './network-status.ts';

describe('network-status', () => {
  it('builds entries in the seed shape (name, interface, ips without prefix, mac, default, dns)', () => {
    const reference = JSON.parse(readFixture('seed', 'network-status.reference.json')) as Array<
      Record<string, unknown>
    >;
    const entries = networkStatusFromResult(
      {
        cniVersion: '0.3.0',
        interfaces: [{ name: 'net1', mac: '86:1d:96:ff:55:0d', sandbox: '/var/run/netns/x' }],
        ips: [{ address: '192.168.1.205/24', version: '4', gateway: '192.168.1.1', interface: 0 }],
        dns: {},
      },
      { name: 'default/macvlan-conf', ifName: 'net1', isDefault: false },
    );
    expect(entries).toEqual([{ ...reference[1], name: 'default/macvlan-conf', gateway: ['192.168.1.1'] }]);
    expect(Object.keys(entries[0]!)).toEqual(expect.arrayContaining(Object.keys(reference[1]!)));
  });

  it('marks the default network and falls back to ifName when no interface is in the sandbox', () => {
    const [entry] = networkStatusFromResult(
      { cniVersion: '1.0.0', ips: [{ address: '2001:db8::7/64' }] },
      { name: 'k8s-pod-network', ifName: 'eth0', isDefault: true },
    );
    expect(entry).toEqual({
      name: 'k8s-pod-network',
      interface: 'eth0',
      ips: ['2001:db8::7'],
      default: true,
      dns: {},
    });
  });

  it('gives each address to its own interface', () => {
    const entries = networkStatusFromResult(
      {
        cniVersion: '1.0.0',
        interfaces: [
          { name: 'host-side', mac: '0a:00:00:00:00:01' },
          { name: 'a', mac: '0a:00:00:00:00:02', sandbox: '/x' },
          { name: 'b', mac: '0a:00:00:00:00:03', sandbox: '/x' },
        ],
        ips: [
          { address: '192.0.2.2/24', interface: 1 },
          { address: '198.51.100.2/24', interface: 2 },
        ],
      },
      { name: 'ns/n', ifName: 'a', isDefault: false },
    );
    expect(entries.map((e) => [e.interface, e.ips])).toEqual([
      ['a', ['192.0.2.2']],
      ['b', ['198.51.100.2']],
    ]);
  });

  it('reads an existing annotation leniently', () => {
    expect(parseNetworkStatusAnnotation(readFixture('seed', 'network-status.reference.json'))).toHaveLength(
      2,
    );
    expect(parseNetworkStatusAnnotation('not json')).toEqual([]);
    expect(parseNetworkStatusAnnotation(undefined)).toEqual([]);
  });
});
