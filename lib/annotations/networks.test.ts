import fc from 'fast-check';
import yaml from 'js-yaml';
import { ValidationError } from '../errors.ts';
import { readFixture } from '../../test/fixtures.ts';
import {
  formatNetworksAnnotation,
  maxNetworkSelections,
  parseNetworksAnnotation,
  type NetworkSelectionElement,
} from './networks.ts';
import { parseDefaultNetworkAnnotation } from './default-network.ts';
import { networksAnnotation } from './keys.ts';

function problemsOf(value: string, namespace = 'default'): string[] {
  try {
    parseNetworksAnnotation(value, namespace);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error(`expected ${value} to be rejected`);
}

describe('comma form', () => {
  it('parses the seed pods', () => {
    const one = yaml.load(readFixture('seed', 'samplepod.yaml')) as {
      metadata: { annotations: Record<string, string> };
    };
    expect(parseNetworksAnnotation(one.metadata.annotations[networksAnnotation]!, 'default')).toEqual([
      { name: 'macvlan-conf', namespace: 'default' },
    ]);
    const two = yaml.load(readFixture('seed', 'samplepod-two-macvlan.yaml')) as typeof one;
    expect(parseNetworksAnnotation(two.metadata.annotations[networksAnnotation]!, 'default')).toEqual([
      { name: 'macvlan-conf', namespace: 'default' },
      { name: 'macvlan-conf', namespace: 'default' },
    ]);
  });

  it('reads name, ns/name and ns/name@ifname, trimming items', () => {
    expect(parseNetworksAnnotation(' a , other/b ,  third/c@san0 ', 'pods')).toEqual([
      { name: 'a', namespace: 'pods' },
      { name: 'b', namespace: 'other' },
      { name: 'c', namespace: 'third', interface: 'san0' },
    ]);
  });

  it('accepts name@ifname without a namespace, and 15-byte interface names', () => {
    expect(parseNetworksAnnotation('a@data1', 'ns')).toEqual([
      { name: 'a', namespace: 'ns', interface: 'data1' },
    ]);
    expect(parseNetworksAnnotation('a@fifteen-bytes15', 'ns')[0]?.interface).toBe('fifteen-bytes15');
  });

  it('treats an empty or blank value as no networks', () => {
    expect(parseNetworksAnnotation('', 'ns')).toEqual([]);
    expect(parseNetworksAnnotation('   ', 'ns')).toEqual([]);
  });

  it.each([
    ['a,,b', 'networks[1]: empty item'],
    ['a,', 'networks[1]: empty item'],
    ['a/b/c', 'networks[0]: "a/b/c" has more than one \'/\''],
    ['a@b@c', 'networks[0]: "a@b@c" has more than one \'@\''],
    ['Macvlan', 'networks[0].name: "Macvlan" must be a DNS-1123 label'],
    ['ns_1/a', 'networks[0].namespace: "ns_1" must be a DNS-1123 label'],
    ['/a', 'networks[0].namespace: must not be empty'],
    ['ns/', 'networks[0].name: must not be empty'],
    [`${'a'.repeat(64)}`, 'networks[0].name: must be no more than 63 characters'],
    ['a@', 'networks[0].interface: must not be empty'],
    [
      'a@sixteen-bytes-xx',
      'networks[0].interface: "sixteen-bytes-xx" is 16 bytes long; interface names are at most 15 bytes',
    ],
    ['a@\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9', 'is 16 bytes long'],
    ['a@ok,b@ok', 'networks[1].interface: "ok" is already used by networks[0]'],
    ['a@..', 'networks[0].interface: ".." is not a valid interface name'],
  ])('rejects %j', (value, expected) => {
    expect(problemsOf(value)).toEqual([expect.stringContaining(expected)]);
  });

  it('reports every bad item at once', () => {
    expect(problemsOf('Bad,,x/y/z')).toHaveLength(3);
  });
});

describe('JSON form', () => {
  const full: Record<string, unknown> = {
    name: 'storage',
    namespace: 'infra',
    interface: 'san0',
    ips: ['192.0.2.10/24', '2001:db8::10'],
    mac: 'c2:b0:57:49:47:f1',
    'infiniband-guid': 'c2:9b:4e:00:00:01:23:45',
    'default-route': ['192.0.2.1'],
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'TCP', hostIP: '198.51.100.1' }],
    bandwidth: { ingressRate: 1000, ingressBurst: 100, egressRate: 2000, egressBurst: 200 },
    'cni-args': { foo: 'bar', n: 1 },
    'com.example.vendor': { knob: true },
  };

  it('keeps every field of the spec and reverse-DNS extensions', () => {
    const [element] = parseNetworksAnnotation(JSON.stringify([full]), 'default');
    const { 'com.example.vendor': vendor, ...fields } = full;
    expect(element).toEqual({ ...fields, extensions: { 'com.example.vendor': vendor } });
  });

  it('fills in the pod namespace', () => {
    expect(parseNetworksAnnotation('[{"name":"a"}]', 'pods')).toEqual([{ name: 'a', namespace: 'pods' }]);
  });

  it('accepts ipam-claim-reference', () => {
    expect(parseNetworksAnnotation('[{"name":"a","ipam-claim-reference":"claim-1"}]', 'ns')[0]).toMatchObject(
      {
        'ipam-claim-reference': 'claim-1',
      },
    );
  });

  const bad = (element: Record<string, unknown>): string[] =>
    problemsOf(JSON.stringify([{ name: 'ok' }, element]));

  it.each([
    [{ interface: 'a b' }, 'networks[1].interface: "a b" must not contain'],
    [{ interface: 'eth:0' }, 'networks[1].interface: "eth:0" must not contain'],
    [{ interface: '.' }, 'networks[1].interface: "." is not a valid interface name'],
    [{ ips: [] }, 'networks[1].ips: must be a non-empty list'],
    [{ ips: ['192.0.2.300'] }, 'networks[1].ips[0]: "192.0.2.300" is not a valid IP address'],
    [{ ips: ['192.0.2.1/33'] }, 'networks[1].ips[0]: "192.0.2.1/33" is not a valid IP address'],
    [{ ips: ['2001:db8::1/129'] }, 'networks[1].ips[0]'],
    [{ ips: ['010.0.0.1'] }, 'networks[1].ips[0]'],
    [{ ips: '192.0.2.1' }, 'networks[1].ips: must be a non-empty list'],
    [{ mac: 'c2:b0:57:49:47' }, 'networks[1].mac: "c2:b0:57:49:47" is not a MAC address of 6 bytes'],
    [{ mac: 'c2:9b:4e:00:00:01:23:45' }, 'networks[1].mac'],
    [
      { 'infiniband-guid': 'c2:b0:57:49:47:f1' },
      'networks[1].infiniband-guid: "c2:b0:57:49:47:f1" is not an InfiniBand GUID of 8 bytes',
    ],
    [
      { 'default-route': ['192.0.2.1/24'] },
      'networks[1].default-route[0]: "192.0.2.1/24" is not a valid gateway IP address',
    ],
    [{ 'default-route': [] }, 'networks[1].default-route: must be a non-empty list'],
    [
      { portMappings: [{ hostPort: 0, containerPort: 80 }] },
      'networks[1].portMappings[0].hostPort: must be a port number from 1 to 65535',
    ],
    [{ portMappings: [{ hostPort: 80, containerPort: 65536 }] }, 'networks[1].portMappings[0].containerPort'],
    [
      { portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'ICMP' }] },
      'networks[1].portMappings[0].protocol: must be TCP, UDP or SCTP',
    ],
    [
      { portMappings: [{ hostPort: 80, containerPort: 80, hostIP: 'x' }] },
      'networks[1].portMappings[0].hostIP',
    ],
    [{ portMappings: { hostPort: 80 } }, 'networks[1].portMappings: must be a list'],
    [{ bandwidth: { ingressBurst: 10 } }, 'networks[1].bandwidth.ingressBurst: needs ingressRate'],
    [{ bandwidth: { egressBurst: 10 } }, 'networks[1].bandwidth.egressBurst: needs egressRate'],
    [{ bandwidth: { ingressRate: -1 } }, 'networks[1].bandwidth.ingressRate: must be a non-negative integer'],
    [{ bandwidth: { ingresRate: 1 } }, 'networks[1].bandwidth.ingresRate: unknown field'],
    [{ 'cni-args': 'x=1' }, 'networks[1].cni-args: must be an object'],
    [
      { ips: ['192.0.2.1'], 'ipam-claim-reference': 'c' },
      'networks[1].ips: cannot be combined with "ipam-claim-reference"',
    ],
    [{ 'ipam-claim-reference': 'Bad_Claim' }, 'networks[1].ipam-claim-reference'],
    [{ interfce: 'x' }, 'networks[1].interfce: unknown field'],
    [{ name: 'UPPER' }, 'networks[1].name: "UPPER" must be a DNS-1123 label'],
    [{ name: 7 }, 'networks[1].name: must be a string'],
    [{ namespace: 'a.b' }, 'networks[1].namespace: "a.b" must be a DNS-1123 label'],
  ])('rejects %j', (fields, expected) => {
    expect(bad({ name: 'n', ...fields })).toEqual([expect.stringContaining(expected)]);
  });

  it('requires a name', () => {
    expect(bad({ interface: 'x' })).toEqual(['networks[1].name: is required']);
  });

  it('rejects duplicate interfaces and a second default-route', () => {
    const value = JSON.stringify([
      { name: 'a', interface: 'data0', 'default-route': ['192.0.2.1'] },
      { name: 'b', interface: 'data0', 'default-route': ['198.51.100.1'] },
    ]);
    expect(problemsOf(value)).toEqual([
      'networks[1].interface: "data0" is already used by networks[0]; interface names must be unique in a pod',
      'networks[1].default-route: networks[0] already sets the default route; only one network may',
    ]);
  });

  it.each([
    ['{"name":"a"}', 'networks: must be a JSON list'],
    ['[{"name":"a"', 'networks: is not valid JSON'],
    ['["a"]', 'networks[0]: must be an object'],
    ['"a"', 'networks: must be a JSON list'],
  ])('rejects the malformed list %j', (value, expected) => {
    expect(problemsOf(value)).toEqual([expect.stringContaining(expected)]);
  });

  it('bounds the number of elements and the size', () => {
    const many = JSON.stringify(Array.from({ length: maxNetworkSelections + 1 }, () => ({ name: 'a' })));
    expect(problemsOf(many)).toEqual([
      expect.stringContaining(`at most ${maxNetworkSelections} are allowed`),
    ]);
    expect(problemsOf('a'.repeat(300 * 1024))).toEqual([expect.stringContaining('is larger than')]);
    expect(problemsOf(`${'['.repeat(5000)}${']'.repeat(5000)}`)).toEqual([
      expect.stringContaining('nested deeper'),
    ]);
  });
});

describe('default-network annotation', () => {
  it('accepts one network in either form', () => {
    expect(parseDefaultNetworkAnnotation('kube-system/calico', 'pods')).toEqual({
      name: 'calico',
      namespace: 'kube-system',
    });
    expect(parseDefaultNetworkAnnotation('[{"name":"calico"}]', 'pods')).toEqual({
      name: 'calico',
      namespace: 'pods',
    });
  });

  it('rejects zero, several or malformed networks, naming the annotation', () => {
    expect(() => parseDefaultNetworkAnnotation('', 'ns')).toThrow(
      'v1.multus-cni.io/default-network: must name one network',
    );
    expect(() => parseDefaultNetworkAnnotation('a,b', 'ns')).toThrow('names 2 networks');
    expect(() => parseDefaultNetworkAnnotation('A', 'ns')).toThrow(
      'v1.multus-cni.io/default-network[0].name',
    );
  });
});

describe('printing', () => {
  it('uses the comma form for simple elements and JSON otherwise', () => {
    expect(
      formatNetworksAnnotation([
        { name: 'a', namespace: 'x', interface: 'n1' },
        { name: 'b', namespace: 'y' },
      ]),
    ).toBe('x/a@n1,y/b');
    expect(formatNetworksAnnotation([{ name: 'a', namespace: 'x', mac: 'c2:b0:57:49:47:f1' }])).toBe(
      '[{"name":"a","namespace":"x","mac":"c2:b0:57:49:47:f1"}]',
    );
  });
});

describe('properties', () => {
  it('throws nothing but ValidationError, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })), (value) => {
        try {
          parseNetworksAnnotation(value, 'default');
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          expect(err.problems.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('throws nothing but ValidationError for JSON lists of arbitrary objects', () => {
    const field = fc.constantFrom(
      'name',
      'namespace',
      'interface',
      'ips',
      'mac',
      'default-route',
      'portMappings',
      'bandwidth',
      'cni-args',
      'infiniband-guid',
      'ipam-claim-reference',
      'x.y',
    );
    const element = fc.dictionary(field, fc.jsonValue());
    fc.assert(
      fc.property(fc.array(element, { maxLength: 5 }), (elements) => {
        try {
          parseNetworksAnnotation(JSON.stringify(elements), 'default');
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
  const ifname = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,15}$/).filter((s) => s !== '.' && s !== '..');
  const ipv4 = fc.ipV4();
  const mac = fc
    .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
    .map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
  const validElement = fc.record(
    {
      name: label,
      namespace: label,
      interface: ifname,
      ips: fc.array(ipv4, { minLength: 1, maxLength: 2 }),
      mac,
      portMappings: fc.array(
        fc.record({
          hostPort: fc.integer({ min: 1, max: 65535 }),
          containerPort: fc.integer({ min: 1, max: 65535 }),
          protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'),
        }),
        { maxLength: 2 },
      ),
      'cni-args': fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
    },
    { requiredKeys: ['name', 'namespace'] },
  );

  it('prints and re-parses a valid selection to the same elements', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(validElement, { maxLength: 6, selector: (e) => e.interface ?? Symbol() }),
        (elements) => {
          const parsed = parseNetworksAnnotation(JSON.stringify(elements), 'default');
          expect(parseNetworksAnnotation(formatNetworksAnnotation(parsed), 'elsewhere')).toEqual(parsed);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips the comma form', () => {
    const simple = fc.record(
      { name: label, namespace: label, interface: ifname },
      { requiredKeys: ['name', 'namespace'] },
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(simple, { maxLength: 6, selector: (e) => e.interface ?? Symbol() }),
        (elements: NetworkSelectionElement[]) => {
          const printed = formatNetworksAnnotation(elements);
          expect(printed.startsWith('[')).toBe(false);
          expect(parseNetworksAnnotation(printed, 'x')).toEqual(elements);
        },
      ),
    );
  });
});

describe('recent parses', () => {
  it('answer the same annotation in the same namespace with the same frozen elements', () => {
    const value = 'default/macvlan-conf@net1, bridge-net';
    const first = parseNetworksAnnotation(value, 'team-a');
    expect(parseNetworksAnnotation(value, 'team-a')).toBe(first);
    expect(Object.isFrozen(first) && first.every((e) => Object.isFrozen(e))).toBe(true);
    expect(() => (first as NetworkSelectionElement[]).push(first[0]!)).toThrow(TypeError);
    // Another namespace resolves unqualified names differently: a parse of its own.
    const other = parseNetworksAnnotation(value, 'team-b');
    expect(other).not.toBe(first);
    expect(other.map((e) => `${e.namespace}/${e.name}`)).toEqual([
      'default/macvlan-conf',
      'team-b/bridge-net',
    ]);
  });

  it('give a malformed annotation the same error every time, naming the field', () => {
    const attempt = (): unknown => parseNetworksAnnotation('[{"name": "x", "interface": 7}]', 'default');
    const errors = [attempt, attempt].map((fn) => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      throw new Error('expected a ValidationError');
    });
    expect(errors[0]).toBeInstanceOf(ValidationError);
    expect(errors[1]).toBe(errors[0]);
    expect((errors[0] as ValidationError).problems[0]!.path).toBe('networks[0].interface');
  });

  it('stay bounded: a value of more than 4096 characters is parsed each time', () => {
    const many = Array.from({ length: 120 }, (_, i) => `a-network-with-a-rather-long-name-${i}`).join(',');
    expect(many.length).toBeGreaterThan(4096);
    const first = parseNetworksAnnotation(many, 'default');
    expect(parseNetworksAnnotation(many, 'default')).not.toBe(first);
    expect(parseNetworksAnnotation(many, 'default')).toEqual(first);
  });
});
