import { networkConfigFrom } from '../../lib/cni/config.ts';
import { resourceSlicesPath, type ResourceSlice, type UsableNetwork } from '../../lib/dra.ts';
import { MemoryApi } from '../../test/doubles/memory-api.ts';
import { silentLog } from '../../test/test-agent.ts';
import { SlicePublisher } from './slice-publisher.ts';

function network(name: string, master = 'eth0'): UsableNetwork {
  const raw = { cniVersion: '1.0.0', name, type: 'macvlan', master, ipam: { type: 'static' } };
  return { namespace: 'default', name, configText: JSON.stringify(raw), config: networkConfigFrom(raw) };
}

const many = (count: number): UsableNetwork[] =>
  Array.from({ length: count }, (_, i) => network(`net-${String(i).padStart(3, '0')}`));

function slices(api: MemoryApi, node = 'node-1'): ResourceSlice[] {
  return [...api.objects]
    .filter(([path]) => path.startsWith(`${resourceSlicesPath}/`))
    .map(([, object]) => object as unknown as ResourceSlice)
    .filter((s) => s.spec.nodeName === node)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

function setup(): { api: MemoryApi; publisher: SlicePublisher; writes: () => string[] } {
  const api = new MemoryApi();
  api.put('/api/v1/nodes/node-1', { metadata: { name: 'node-1', uid: 'node-uid' } });
  const publisher = new SlicePublisher({ client: api, nodeName: 'node-1', log: silentLog, debounceMs: 1 });
  const writes = (): string[] => api.log.filter((l) => !l.startsWith('GET'));
  return { api, publisher, writes };
}

describe('the ResourceSlice publisher', () => {
  it("publishes 500 usable NADs as 4 slices of the node's pool, owned by its Node, and writes nothing more while they stay usable", async () => {
    const { api, publisher, writes } = setup();
    publisher.publish(many(500));
    await publisher.idle();
    const published = slices(api);
    expect(published.map((s) => [s.metadata.name, s.spec.devices.length, s.spec.pool])).toEqual([
      ['node-1-networks.multinet.io-0', 128, { name: 'node-1', generation: 1, resourceSliceCount: 4 }],
      ['node-1-networks.multinet.io-1', 128, { name: 'node-1', generation: 1, resourceSliceCount: 4 }],
      ['node-1-networks.multinet.io-2', 128, { name: 'node-1', generation: 1, resourceSliceCount: 4 }],
      ['node-1-networks.multinet.io-3', 116, { name: 'node-1', generation: 1, resourceSliceCount: 4 }],
    ]);
    expect(published[0]!.metadata.ownerReferences).toEqual([
      { apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'node-uid', controller: true },
    ]);
    expect(writes()).toHaveLength(4);
    expect(publisher.writes).toBe(4);
    // The node reporter tells it the same networks at every heartbeat: no request at all.
    const requests = api.log.length;
    for (let i = 0; i < 5; i++) publisher.publish(many(500));
    await publisher.idle();
    expect(api.log.length).toBe(requests);
  });

  it('follows a NAD that becomes usable or unusable with one write, and a master that changes', async () => {
    const { api, publisher, writes } = setup();
    publisher.publish(many(10));
    await publisher.idle();
    const before = writes().length;
    publisher.publish([...many(10), network('storage', 'storage0')]);
    await publisher.idle();
    expect(writes().slice(before)).toEqual([`PUT ${resourceSlicesPath}/node-1-networks.multinet.io-0`]);
    const storage = slices(api)[0]!.spec.devices.find(
      (d) => d.attributes['networks.multinet.io/nad']?.string === 'default/storage',
    );
    expect(storage?.attributes['networks.multinet.io/master']).toEqual({ string: 'storage0' });
    publisher.publish([...many(10), network('storage', 'storage1')]);
    await publisher.idle();
    expect(
      slices(api)[0]!.spec.devices.find(
        (d) => d.attributes['networks.multinet.io/nad']?.string === 'default/storage',
      )?.attributes['networks.multinet.io/master'],
    ).toEqual({ string: 'storage1' });
    publisher.publish(many(10));
    await publisher.idle();
    expect(slices(api)[0]!.spec.devices).toHaveLength(10);
    expect(slices(api)[0]!.spec.pool.generation).toBe(1);
    publisher.publish([]);
    await publisher.idle();
    expect(slices(api)).toEqual([]);
  });

  it("puts back a slice someone else deleted or changed (the kubelet wipes a node's slices when it starts), and ignores its own writes", async () => {
    const { api, publisher, writes } = setup();
    publisher.publish(many(200));
    await publisher.idle();
    const [first, second] = slices(api);
    // Its own writes come back through the watch: nothing to do.
    publisher.observed(first!, false);
    publisher.observed(second!, false);
    await publisher.idle();
    const before = writes().length;
    expect(api.log.at(-1)).toMatch(/^POST/);
    api.objects.delete(`${resourceSlicesPath}/${first!.metadata.name}`);
    publisher.observed(first!, true);
    await publisher.idle();
    expect(writes().slice(before)).toEqual([`POST ${resourceSlicesPath}`]);
    expect(slices(api).map((s) => s.spec.devices.length)).toEqual([128, 72]);
    // Edited by someone: written back.
    const edited = { ...second!, spec: { ...second!.spec, devices: second!.spec.devices.slice(1) } };
    const stored = api.put(`${resourceSlicesPath}/${second!.metadata.name}`, edited);
    publisher.observed(stored as unknown as ResourceSlice, false);
    await publisher.idle();
    expect(slices(api).map((s) => s.spec.devices.length)).toEqual([128, 72]);
  });

  it('leaves out a NAD whose "namespace/name" is too long for a device attribute, and tries again after a failed write', async () => {
    const { api, publisher } = setup();
    let fail = 1;
    api.intercept = (request) => {
      if (request.method === 'POST' && fail-- > 0) throw new Error('the API server is away');
    };
    publisher.publish([network('ok'), network('x'.repeat(60))]);
    await publisher.idle();
    expect(publisher.skipped).toEqual([
      { network: `default/${'x'.repeat(60)}`, reason: expect.stringContaining('longer than 64 characters') },
    ]);
    expect(
      slices(api).flatMap((s) => s.spec.devices.map((d) => d.attributes['networks.multinet.io/nad']?.string)),
    ).toEqual(['default/ok']);
  });
});
