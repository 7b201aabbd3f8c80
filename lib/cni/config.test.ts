import fc from 'fast-check';
import { readFixture } from '../../test/fixtures.ts';
import { ValidationError } from '../errors.ts';
import { declaredCapabilities, hostInterfaces, requiredBinaries, validateCniConfig } from './config.ts';

describe('validateCniConfig', () => {
  it('accepts the seed default network (calico conflist) and names what it needs', () => {
    const { config, warnings } = validateCniConfig(readFixture('seed', '10-calico.conflist'));
    expect(config).toMatchObject({ kind: 'conflist', name: 'k8s-pod-network', cniVersion: '0.3.1' });
    expect(config.plugins.map((p) => p.type)).toEqual(['calico', 'portmap', 'bandwidth']);
    expect(requiredBinaries(config)).toEqual(['calico', 'calico-ipam', 'portmap', 'bandwidth']);
    expect([...declaredCapabilities(config)].sort()).toEqual(['bandwidth', 'portMappings']);
    expect(warnings).toEqual([]);
  });

  it('accepts the seed loopback.conf, warning about its missing name and unknown field', () => {
    const { config, warnings } = validateCniConfig(readFixture('seed', 'loopback.conf'));
    expect(config.kind).toBe('conf');
    expect(warnings.map((w) => w.path)).toEqual(['$.name', '$.additional']);
  });

  it('requires a name on a list unless a default is given', () => {
    const list = { cniVersion: '1.0.0', plugins: [{ type: 'bridge' }] };
    expect(() => validateCniConfig(list)).toThrow('$.name: is required');
    expect(validateCniConfig(list, { defaultName: 'from-nad' }).config.name).toBe('from-nad');
  });

  it('warns about unknown fields of known plugins with a suggestion, and about version mismatches', () => {
    const { warnings } = validateCniConfig({
      cniVersion: '1.0.0',
      name: 'n',
      plugins: [
        {
          type: 'macvlan',
          mastr: 'eth0',
          ipam: { type: 'host-local', subnet: '192.0.2.0/24', rangestart: '192.0.2.5' },
        },
        { type: 'tuning', cniVersion: '0.4.0' },
      ],
    });
    expect(warnings).toEqual([
      { path: '$.plugins[0].mastr', message: expect.stringContaining('(did you mean "master"?)') },
      {
        path: '$.plugins[0].ipam.rangestart',
        message: expect.stringContaining('(did you mean "rangeStart"?)'),
      },
      { path: '$.plugins[1].cniVersion', message: expect.stringContaining('differs from the list') },
    ]);
  });

  it("accepts kube-flannel's default network, and Flannel's partial ipam that it completes itself", () => {
    const kubeFlannel = validateCniConfig(readFixture('conf', 'kube-flannel.conflist'));
    expect(kubeFlannel.warnings).toEqual([]);
    expect(requiredBinaries(kubeFlannel.config)).toEqual(['flannel', 'portmap']);
    const partial = validateCniConfig(readFixture('conf', 'flannel-partial-ipam.conflist'));
    expect(partial.warnings).toEqual([]);
    expect(requiredBinaries(partial.config)).toEqual(['flannel']);
  });

  it('still requires an IPAM type from plugins that run their IPAM themselves', () => {
    expect(() =>
      validateCniConfig({
        cniVersion: '1.0.0',
        name: 'b',
        plugins: [{ type: 'bridge', ipam: { dataDir: '/x' } }],
      }),
    ).toThrow('$.plugins[0].ipam.type: is required');
  });

  it('does not type-check plugins it does not know, beyond the common fields', () => {
    expect(() =>
      validateCniConfig({ cniVersion: '0.3.1', name: 'x', type: 'sriov', vlan: 'anything' }),
    ).not.toThrow();
    expect(() =>
      validateCniConfig({ cniVersion: '0.3.1', name: 'x', type: 'sriov', capabilities: { ips: 'yes' } }),
    ).toThrow('$.capabilities.ips: must be true or false (got string "yes")');
  });

  it('lists host interfaces the config depends on', () => {
    const { config } = validateCniConfig({
      cniVersion: '1.0.0',
      name: 'x',
      plugins: [
        { type: 'macvlan', master: 'ens3' },
        { type: 'host-device', device: 'ens4' },
        { type: 'vlan', master: 'in-pod', vlanId: 3, linkInContainer: true },
      ],
    });
    expect(hostInterfaces(config)).toEqual(['ens3', 'ens4']);
  });

  it.each([
    [
      { cniVersion: '1.0.0', name: 'x', type: 'bridge', dns: { nameservers: ['not-an-ip'] } },
      '$.dns.nameservers[0]: "not-an-ip" is not an IP address',
    ],
    [
      { cniVersion: '1.0.0', name: 'x', type: 'tuning', sysctl: { 'kernel.panic': '1' } },
      '$.sysctl["kernel.panic"]: only net.* sysctls',
    ],
    [{ cniVersion: '1.0.0', name: 'x', type: 'tuning', mac: 'zz' }, '$.mac: "zz" is not a MAC address'],
    [
      { cniVersion: '1.0.0', name: 'x', type: 'bridge', vlanTrunk: [{ minID: 10 }] },
      '$.vlanTrunk[0]: "minID" and "maxID" are both required',
    ],
    [
      { cniVersion: '1.0.0', name: 'x', type: 'host-device', device: 'a', pciBusID: '0000:00:1f.6' },
      '$: set only one of device, hwaddr, kernelpath, pciBusID',
    ],
    [
      {
        cniVersion: '1.0.0',
        name: 'x',
        type: 'bridge',
        ipam: { type: 'host-local', subnet: '192.0.2.0/31' },
      },
      '$.ipam.subnet: "192.0.2.0/31" is too small',
    ],
    [
      {
        cniVersion: '1.0.0',
        name: 'x',
        type: 'bridge',
        ipam: { type: 'host-local', subnet: '192.0.2.0/24', gateway: '198.51.100.1' },
      },
      '$.ipam.gateway: "198.51.100.1" is not inside subnet',
    ],
    [
      {
        cniVersion: '1.0.0',
        name: 'x',
        type: 'bridge',
        ipam: { type: 'host-local', ranges: [[{ subnet: '192.0.2.0/24' }, { subnet: '2001:db8::/64' }]] },
      },
      '$.ipam.ranges[0]: mixes IPv4 and IPv6',
    ],
    [
      {
        cniVersion: '1.0.0',
        name: 'x',
        type: 'bridge',
        ipam: {
          type: 'host-local',
          subnet: '192.0.2.0/24',
          routes: [{ dst: '0.0.0.0/0', gw: '2001:db8::1' }],
        },
      },
      '$.ipam.routes[0].gw: is an IPv6 address but dst "0.0.0.0/0" is IPv4',
    ],
    [
      {
        cniVersion: '1.0.0',
        name: 'x',
        type: 'bridge',
        ipam: { type: 'static', addresses: [{ address: '192.0.2.5/24', gateway: '2001:db8::1' }] },
      },
      '$.ipam.addresses[0].gateway: is IPv6 but the address is IPv4',
    ],
    [
      {
        cniVersion: '1.0.0',
        name: 'x',
        type: 'bridge',
        ipam: { type: 'whereabouts', range: '192.0.2.0/24', range_start: '198.51.100.1' },
      },
      '$.ipam.range_start: "198.51.100.1" is not inside "192.0.2.0/24"',
    ],
    [
      { cniVersion: '1.0.0', name: 'x', type: 'bridge', ipam: { type: 'whereabouts' } },
      '$.ipam: whereabouts needs "range" or "ipRanges"',
    ],
    [
      { cniVersion: '1.0.0', name: 'x', type: 'bridge', ipam: { type: 'host/local' } },
      '$.ipam.type: must be a bare plugin name',
    ],
    [{ cniVersion: '1.0.0', name: 'x', type: 'bridge', ipam: {} }, '$.ipam.type: is required'],
    [{ cniVersion: '1.0.0', name: 'bad name', type: 'bridge' }, '$.name: must start with a letter or digit'],
    [{ cniVersion: '1.0.0', name: 'x', type: '..' }, '$.type: must be a bare plugin name'],
    [{ cniVersion: '1.0.0', name: 'x', type: '' }, '$.type: must be a bare plugin name'],
    [{ cniVersion: '1.0.0', name: 'x', type: 'portmap', markMasqBit: 40 }, '$.markMasqBit: must be <= 31'],
    [
      { cniVersion: '1.0.0', name: 'x', type: 'bandwidth', shapedSubnets: ['x'] },
      '$.shapedSubnets[0]: "x" is not a CIDR',
    ],
    [[1, 2], '$: must be a JSON object (a CNI configuration), got a list'],
    ['{"a":', '$: is not valid JSON'],
  ])('rejects %j', (input, message) => {
    expect(() => validateCniConfig(input as never)).toThrow(message);
  });

  it('reports several problems at once, each with its path', () => {
    try {
      validateCniConfig({
        cniVersion: '9.9.9',
        name: 'x',
        plugins: [{ type: 'a/b' }, { type: 'bridge', mtu: -1 }],
      });
      throw new Error('not rejected');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).problems.map((p) => p.path)).toEqual([
        '$.cniVersion',
        '$.plugins[0].type',
      ]);
    }
  });

  it('never throws anything but ValidationError', () => {
    const plugin = fc.record(
      {
        type: fc.constantFrom(
          'bridge',
          'macvlan',
          'ipvlan',
          'host-device',
          'ptp',
          'vlan',
          'tuning',
          'portmap',
          'bandwidth',
          'sbr',
          'vrf',
          'firewall',
          'other',
        ),
        master: fc.oneof(fc.string(), fc.integer()),
        mode: fc.string(),
        ipam: fc.record(
          {
            type: fc.constantFrom('host-local', 'static', 'dhcp', 'whereabouts', 'x'),
            subnet: fc.oneof(fc.string(), fc.constant('192.0.2.0/24')),
            rangeStart: fc.oneof(fc.string(), fc.ipV4()),
            ranges: fc.jsonValue(),
            routes: fc.jsonValue(),
            addresses: fc.jsonValue(),
            range: fc.string(),
            ipRanges: fc.jsonValue(),
          },
          { requiredKeys: ['type'] },
        ),
        vlanTrunk: fc.jsonValue(),
        sysctl: fc.jsonValue(),
        dns: fc.jsonValue(),
      },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            cniVersion: fc.constant('1.0.0'),
            name: fc.constant('n'),
            plugins: fc.array(plugin, { maxLength: 3 }),
          }),
          plugin.map((p) => ({ cniVersion: '0.3.1', name: 'n', ...p })),
        ),
        (value) => {
          try {
            validateCniConfig(value as never);
          } catch (err) {
            if (!(err instanceof ValidationError)) throw err;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
