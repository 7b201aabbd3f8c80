import { networkConfigFrom } from './cni/config.ts';
import {
  attachedDeviceStatus,
  claimDevices,
  claimParameters,
  claimSpecProblems,
  deviceName,
  draDriver,
  mergeDeviceStatuses,
  networkDataFromResult,
  networkDevice,
  planSlices,
  sliceName,
  type NetworkDevice,
  type ResourceSlice,
  type UsableNetwork,
} from './dra.ts';
import { ValidationError } from './errors.ts';
import { podClaimNames } from './k8s/pod-claims.ts';

function usable(
  name: string,
  config: object = { type: 'macvlan', master: 'eth0' },
  namespace = 'default',
): UsableNetwork {
  const raw = { cniVersion: '1.0.0', name, ...config };
  return { namespace, name, configText: JSON.stringify(raw), config: networkConfigFrom(raw) };
}

function devices(count: number, prefix = 'net'): NetworkDevice[] {
  return Array.from({ length: count }, (_, i) => {
    const device = networkDevice(usable(`${prefix}-${String(i).padStart(3, '0')}`));
    if ('skipped' in device) throw new Error(device.skipped);
    return device;
  });
}

/** What the API server holds after a plan is applied (resourceVersions are counters). */
function apply(current: readonly ResourceSlice[], plan: ReturnType<typeof planSlices>): ResourceSlice[] {
  let rv = 100;
  const byName = new Map(current.map((s) => [s.metadata.name, s]));
  for (const s of plan.remove) byName.delete(s.metadata.name);
  for (const s of [...plan.update, ...plan.create])
    byName.set(s.metadata.name, { ...s, metadata: { ...s.metadata, resourceVersion: String(++rv) } });
  return [...byName.values()];
}

const node = { nodeName: 'node-1' };

describe('networks as DRA devices', () => {
  it('makes one shareable device per NAD, named as a DNS label, with the attributes a claim selects on', () => {
    const device = networkDevice({
      ...usable('storage', { type: 'macvlan', master: 'storage0', ipam: { type: 'static' } }, 'team-a'),
      resourceName: 'intel.com/sriov',
    });
    expect(device).toEqual({
      name: expect.stringMatching(/^team-a-storage-[0-9a-f]{8}$/),
      allowMultipleAllocations: true,
      attributes: {
        'k8s.cni.cncf.io/resourceName': { string: 'intel.com/sriov' },
        'networks.multinet.io/master': { string: 'storage0' },
        'networks.multinet.io/nad': { string: 'team-a/storage' },
        'networks.multinet.io/name': { string: 'storage' },
        'networks.multinet.io/namespace': { string: 'team-a' },
        'networks.multinet.io/type': { string: 'macvlan' },
      },
    });
    // Names that would read alike stay apart; a dotted NAD name still makes a DNS label.
    expect(deviceName('a-b', 'c')).not.toBe(deviceName('a', 'b-c'));
    expect(deviceName('ns', 'a.b')).toMatch(/^ns-a-b-[0-9a-f]{8}$/);
    expect(deviceName('n'.repeat(63), 'x'.repeat(63))).toHaveLength(63);
    expect(networkDevice(usable('x'.repeat(60)))).toEqual({
      skipped: expect.stringContaining('longer than 64 characters'),
    });
  });

  it('lays out 300 devices in 3 slices of one pool at generation 1, and writes nothing when nothing changed', () => {
    const plan = planSlices([], devices(300), node);
    expect(plan.remove).toEqual([]);
    expect(plan.update).toEqual([]);
    expect(plan.create.map((s) => [s.metadata.name, s.spec.devices.length, s.spec.pool])).toEqual([
      ['node-1-networks.multinet.io-0', 128, { name: 'node-1', generation: 1, resourceSliceCount: 3 }],
      ['node-1-networks.multinet.io-1', 128, { name: 'node-1', generation: 1, resourceSliceCount: 3 }],
      ['node-1-networks.multinet.io-2', 44, { name: 'node-1', generation: 1, resourceSliceCount: 3 }],
    ]);
    expect(plan.create[0]!.spec).toMatchObject({ driver: draDriver, nodeName: 'node-1' });
    const stored = apply([], plan);
    expect(planSlices(stored, devices(300), node)).toEqual({ remove: [], update: [], create: [] });
  });

  it('adds, changes or removes a device with one update in place (the generation stays)', () => {
    const stored = apply([], planSlices([], devices(300), node));
    const added = planSlices(stored, [...devices(300), ...devices(1, 'new')], node);
    expect([added.remove, added.create]).toEqual([[], []]);
    expect(added.update.map((s) => [s.metadata.name, s.spec.devices.length, s.spec.pool.generation])).toEqual(
      [['node-1-networks.multinet.io-2', 45, 1]],
    );
    expect(added.update[0]!.metadata.resourceVersion).toBeDefined();
    const removed = planSlices(
      stored,
      devices(300).filter((d) => !d.name.startsWith('default-net-000-')),
      node,
    );
    expect(
      removed.update.map((s) => [s.metadata.name, s.spec.devices.length, s.spec.pool.generation]),
    ).toEqual([['node-1-networks.multinet.io-0', 127, 1]]);
  });

  it('moves to the next generation, every slice at once, when the pool gains or loses a slice or two slices change', () => {
    const stored = apply([], planSlices([], devices(300), node));
    const grown = planSlices(stored, [...devices(300), ...devices(100, 'more')], node);
    expect(grown.create.map((s) => s.metadata.name)).toEqual(['node-1-networks.multinet.io-3']);
    expect(grown.update.map((s) => s.metadata.name)).toHaveLength(3);
    for (const s of [...grown.update, ...grown.create])
      expect(s.spec.pool).toEqual({ name: 'node-1', generation: 2, resourceSliceCount: 4 });
    // The last slice's 44 devices go: the pool shrinks to 2 slices at generation 2.
    const shrunk = planSlices(stored, devices(256), node);
    expect(shrunk.remove.map((s) => s.metadata.name)).toEqual(['node-1-networks.multinet.io-2']);
    expect(shrunk.update.map((s) => [s.metadata.name, s.spec.pool])).toEqual([
      ['node-1-networks.multinet.io-0', { name: 'node-1', generation: 2, resourceSliceCount: 2 }],
      ['node-1-networks.multinet.io-1', { name: 'node-1', generation: 2, resourceSliceCount: 2 }],
    ]);
    // No usable network left: no slice.
    expect(planSlices(stored, [], node).remove).toHaveLength(3);
  });

  it('removes slices of an older generation or another naming, and repacks a pool that could lose two slices', () => {
    const stored = apply([], planSlices([], devices(300), node));
    const stale = {
      ...stored[0]!,
      metadata: { name: 'node-1-other' },
      spec: { ...stored[0]!.spec, pool: { ...stored[0]!.spec.pool, generation: 0 } },
    };
    const plan = planSlices([...stored, stale], devices(300), node);
    expect(plan.remove.map((s) => s.metadata.name)).toEqual(['node-1-other']);
    expect([plan.update, plan.create]).toEqual([[], []]);
    // 10 devices left, one in each of 3 slices: repacked into one.
    const few = [stored[0]!.spec.devices[0]!, stored[1]!.spec.devices[0]!, stored[2]!.spec.devices[0]!];
    const repacked = planSlices(stored, few, node);
    expect(
      repacked.update.map((s) => [s.metadata.name, s.spec.devices.length, s.spec.pool.resourceSliceCount]),
    ).toEqual([['node-1-networks.multinet.io-0', 3, 1]]);
    expect(repacked.remove.map((s) => s.metadata.name).sort()).toEqual([
      'node-1-networks.multinet.io-1',
      'node-1-networks.multinet.io-2',
    ]);
    expect(sliceName('n'.repeat(250), 7).length).toBeLessThanOrEqual(253);
  });

  it("checks a claim's opaque parameters with the network selection element's schema, naming the field", () => {
    expect(
      claimParameters({ interface: 'storage', ips: ['203.0.113.5/24'], mac: 'c2:b0:57:49:47:f1' }, 'p'),
    ).toEqual({
      interface: 'storage',
      ips: ['203.0.113.5/24'],
      mac: 'c2:b0:57:49:47:f1',
    });
    expect(claimParameters(undefined, 'p')).toEqual({});
    const problems = (value: unknown): string[] => {
      try {
        claimParameters(value, 'spec.devices.config[0].opaque.parameters');
        return [];
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        return err.problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    expect(problems({ ips: ['203.0.113.500'] })).toEqual([
      'spec.devices.config[0].opaque.parameters.ips[0]: "203.0.113.500" is not a valid IP address',
    ]);
    expect(problems({ name: 'other' })).toEqual([
      expect.stringMatching(/^spec\.devices\.config\[0]\.opaque\.parameters\.name: is not set in a claim/),
    ]);
    expect(problems({ interfce: 'x' })).toEqual([
      expect.stringMatching(/^spec\.devices\.config\[0]\.opaque\.parameters\.interfce: unknown field/),
    ]);
    expect(problems(['x'])).toEqual([expect.stringMatching(/must be an object/)]);
    expect(
      claimSpecProblems(
        {
          devices: {
            config: [
              { opaque: { driver: 'gpu.example.com', parameters: { anything: true } } },
              { opaque: { driver: draDriver, parameters: { mac: 'nope' } } },
            ],
          },
        },
        'spec.spec',
      ).map((p) => p.path),
    ).toEqual(['spec.spec.devices.config[1].opaque.parameters.mac']);
  });

  it("takes a claim's devices of this driver from its allocation, with the parameters of their requests (the claim's over the class's)", () => {
    const claim = {
      status: {
        allocation: {
          devices: {
            results: [
              { request: 'gpu', driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0' },
              { request: 'storage', driver: draDriver, pool: 'node-1', device: 'dev-a', shareID: 'share-1' },
              { request: 'fast/any', driver: draDriver, pool: 'node-1', device: 'dev-b' },
            ],
            config: [
              {
                source: 'FromClass',
                opaque: { driver: draDriver, parameters: { interface: 'cls0', mac: 'c2:b0:57:49:47:f1' } },
              },
              {
                source: 'FromClaim',
                requests: ['storage'],
                opaque: { driver: draDriver, parameters: { interface: 'storage' } },
              },
              {
                source: 'FromClaim',
                requests: ['fast'],
                opaque: { driver: draDriver, parameters: { ips: ['203.0.113.9/24'] } },
              },
              { source: 'FromClaim', opaque: { driver: 'gpu.example.com', parameters: { not: 'ours' } } },
            ],
          },
        },
      },
    };
    expect(claimDevices(claim)).toEqual([
      {
        request: 'storage',
        pool: 'node-1',
        device: 'dev-a',
        shareID: 'share-1',
        parameters: { interface: 'storage', mac: 'c2:b0:57:49:47:f1' },
      },
      {
        request: 'fast/any',
        pool: 'node-1',
        device: 'dev-b',
        parameters: { interface: 'cls0', mac: 'c2:b0:57:49:47:f1', ips: ['203.0.113.9/24'] },
      },
    ]);
    expect(claimDevices({ status: {} })).toEqual([]);
    expect(() =>
      claimDevices({
        status: {
          allocation: {
            devices: { results: [], config: [{ opaque: { driver: draDriver, parameters: { ips: 'x' } } }] },
          },
        },
      }),
    ).toThrow(/status\.allocation\.devices\.config\[0]\.opaque\.parameters\.ips/);
  });

  it('writes networkData from the result (addresses with their prefix) and replaces only its own status entries', () => {
    const result = {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'storage0' },
        { name: 'storage', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/x' },
      ],
      ips: [{ address: '203.0.113.5/24', interface: 1 }],
    };
    const data = networkDataFromResult(result, 'storage');
    expect(data).toEqual({
      interfaceName: 'storage',
      ips: ['203.0.113.5/24'],
      hardwareAddress: '02:00:00:00:00:01',
    });
    const ref = {
      namespace: 'ns',
      name: 'c',
      uid: 'u',
      request: 'r',
      pool: 'node-1',
      device: 'dev-a',
      shareID: 's1',
    };
    const entry = attachedDeviceStatus(
      ref,
      data,
      { namespace: 'ns', name: 'pod' },
      new Date('2026-12-07T10:00:00.123Z'),
    );
    expect(entry).toEqual({
      driver: draDriver,
      pool: 'node-1',
      device: 'dev-a',
      shareID: 's1',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Attached',
          message: 'attached to pod ns/pod as storage',
          lastTransitionTime: '2026-12-07T10:00:00Z',
        },
      ],
      networkData: data,
    });
    const gpu = { driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0', conditions: [] };
    const old = { driver: draDriver, pool: 'node-1', device: 'dev-a', shareID: 's1', conditions: [] };
    expect(mergeDeviceStatuses([gpu, old], [ref], [entry])).toEqual([gpu, entry]);
    expect(mergeDeviceStatuses([gpu, entry], [ref], [])).toEqual([gpu]);
  });

  it("names a pod's claims in its order: those it names and those made from its templates", () => {
    expect(
      podClaimNames({
        spec: {
          resourceClaims: [
            { name: 'a', resourceClaimTemplateName: 't' },
            { name: 'b', resourceClaimName: 'shared' },
            { name: 'c', resourceClaimTemplateName: 'not-made-yet' },
          ],
        },
        status: { resourceClaimStatuses: [{ name: 'a', resourceClaimName: 'pod-a-x7k2' }, { name: 'c' }] },
      }),
    ).toEqual(['pod-a-x7k2', 'shared']);
    expect(podClaimNames({ metadata: {} })).toEqual([]);
  });
});
