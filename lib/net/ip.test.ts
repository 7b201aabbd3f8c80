import fc from 'fast-check';
import {
  formatIp,
  parseCidr,
  parseIp,
  parseIpWithOptionalPrefix,
  prefixContains,
  prefixesOverlap,
  prefixLast,
} from './ip.ts';
import { isHardwareAddress } from './hwaddr.ts';

describe('IP parsing', () => {
  it.each([
    '192.0.2.1',
    '0.0.0.0',
    '255.255.255.255',
    '2001:db8::1',
    '::',
    '::1',
    '::ffff:192.0.2.1',
    '2001:db8:0:0:0:0:0:1',
  ])('accepts %s', (ip) => {
    expect(parseIp(ip)).toBeDefined();
  });

  it.each([
    '192.0.2',
    '192.0.2.256',
    '01.2.3.4',
    '1.2.3.4.5',
    '2001:db8:::1',
    '2001:db8::1::2',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    '',
    'x',
    '1.2.3.4 ',
  ])('rejects %j', (ip) => {
    expect(parseIp(ip)).toBeUndefined();
  });

  it('round-trips through formatIp (RFC 5952 form)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const ip = parseIp(text);
        expect(ip).toBeDefined();
        expect(parseIp(formatIp(ip!))).toEqual(ip);
      }),
    );
    expect(formatIp(parseIp('2001:0db8:0:0:0:0:0:0001')!)).toBe('2001:db8::1');
  });

  it('handles prefixes', () => {
    const net = parseCidr('192.0.2.77/24')!;
    expect(formatIp({ family: 4, value: net.network })).toBe('192.0.2.0');
    expect(formatIp({ family: 4, value: prefixLast(net) })).toBe('192.0.2.255');
    expect(prefixContains(net, parseIp('192.0.2.255')!)).toBe(true);
    expect(prefixContains(net, parseIp('192.0.3.0')!)).toBe(false);
    expect(prefixContains(net, parseIp('::1')!)).toBe(false);
    expect(prefixesOverlap(net, parseCidr('192.0.0.0/16')!)).toBe(true);
    expect(prefixesOverlap(net, parseCidr('198.51.100.0/24')!)).toBe(false);
    expect(parseCidr('192.0.2.0/33')).toBeUndefined();
    expect(parseCidr('192.0.2.0/024')).toBeUndefined();
    expect(parseIpWithOptionalPrefix('2001:db8::1/64')).toEqual(parseIp('2001:db8::1'));
  });
});

describe('hardware addresses', () => {
  it('counts bytes', () => {
    expect(isHardwareAddress('c2:b0:57:49:47:f1', 6)).toBe(true);
    expect(isHardwareAddress('C2-B0-57-49-47-F1', 6)).toBe(true);
    expect(isHardwareAddress('c2:b0:57:49:47:f1', 8)).toBe(false);
    expect(isHardwareAddress('c2:b0:57:49:47:f', 6)).toBe(false);
    expect(isHardwareAddress('c2:b0:57-49:47:f1', 6)).toBe(false);
  });
});
