/**
 * A pod Multus attached before multinet took the node over: its DEL comes to multinet, which has no
 * record of it, and releases everything Multus recorded (test/fixtures/multus: Multus' scratch file and
 * libcni's result cache), then removes Multus' record.
 */
import { readFixture } from '../test/fixtures.ts';
import { okPlugin, rejection, testAgent, type TestAgent } from '../test/test-agent.ts';
import { MultusCache } from './multus-cache.ts';

const cacheDir = '/var/lib/cni/multus';
const containerId = '4d7f0c1b9e2a';
const scratch = `${cacheDir}/${containerId}`;
const results = [
  ['podnet', 'eth0'],
  ['macvlan-conf', 'net1'],
  ['macvlan-conf', 'san0'],
].map(([network, ifName]) => ({
  path: `${cacheDir}/results/${network}-${containerId}-${ifName}`,
  fixture: `result-${network}-${ifName}.json`,
}));

function withMultusRecord(t: TestAgent): void {
  t.fs.put(scratch, readFixture('multus', 'delegates.json'), 0o600);
  for (const { path, fixture } of results) t.fs.put(path, readFixture('multus', fixture), 0o600);
}

function del(t: TestAgent): ReturnType<TestAgent['agent']['attacher']['handle']> {
  return t.agent.attacher.handle(
    t.request('DEL', {
      containerId,
      args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=u1`,
    }),
  );
}

describe("DEL of a pod Multus attached (Multus' record, no multinet record)", () => {
  it('deletes every delegate Multus recorded, in reverse, on their interfaces, then removes the record', async () => {
    const t = testAgent({ multusCacheDir: cacheDir });
    t.exec.register('/opt/cni/bin/portmap', okPlugin);
    withMultusRecord(t);
    await t.agent.start();
    await del(t);
    expect(t.calls()).toEqual([
      'DEL macvlan san0',
      'DEL macvlan net1',
      'DEL portmap eth0',
      'DEL bridge eth0',
    ]);
    const calls = t.exec.calls.filter((c) => c.command === 'DEL');
    // The configuration Multus ran, its name (host-local's lease dir), and libcni's cached result and capability args.
    expect(calls[0]!.stdin).toMatchObject({
      name: 'macvlan-conf',
      master: 'eth0',
      ipam: { rangeStart: '192.0.2.200' },
    });
    expect(calls[0]!.stdin).not.toHaveProperty('prevResult'); // CNI 0.3.0: libcni gives DEL no cached result
    expect(calls[2]!.stdin).toMatchObject({
      name: 'podnet',
      type: 'portmap',
      runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
      prevResult: { ips: [{ address: '198.51.100.9/25' }] },
    });
    expect(calls[2]!.env.CNI_CONTAINERID).toBe(containerId);
    for (const file of [scratch, ...results.map((r) => r.path)])
      expect(await t.fs.stat(file)).toBeUndefined();
  });

  it("removes the runtime's cached entry of Multus' network for the pod (the runtime's DEL now calls multinet's), and nothing else", async () => {
    const runtimeCache = '/var/lib/cni';
    const t = testAgent({ multusCacheDir: cacheDir, runtimeCniCacheDir: runtimeCache });
    t.exec.register('/opt/cni/bin/portmap', okPlugin);
    withMultusRecord(t);
    // libcni's cache entries, as containerd writes them: the config it ran, base64.
    const entry = (config: object): string =>
      JSON.stringify({
        kind: 'cniCacheV1',
        containerId,
        config: Buffer.from(JSON.stringify(config)).toString('base64'),
        ifName: 'eth0',
      });
    const multusEntry = `${runtimeCache}/results/multus-cni-network-${containerId}-eth0`;
    const loopback = `${runtimeCache}/results/cni-loopback-${containerId}-lo`;
    const otherPod = `${runtimeCache}/results/multus-cni-network-0ther-eth0`;
    const multinetEntry = `${runtimeCache}/results/multinet-${containerId}-eth0`;
    t.fs.put(multusEntry, entry({ cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus-shim' }));
    t.fs.put(loopback, entry({ cniVersion: '1.0.0', name: 'cni-loopback', plugins: [{ type: 'loopback' }] }));
    t.fs.put(otherPod, entry({ cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus-shim' }));
    t.fs.put(
      multinetEntry,
      entry({ cniVersion: '1.0.0', name: 'multinet', plugins: [{ type: 'multinet-cni' }] }),
    );
    await t.agent.start();
    await del(t);
    expect(await t.fs.stat(multusEntry)).toBeUndefined();
    for (const kept of [loopback, otherPod, multinetEntry]) expect(await t.fs.stat(kept)).toBeDefined();
  });

  it('keeps the record for the runtime to retry when a delegate fails in a namespace that is still there', async () => {
    const t = testAgent({ multusCacheDir: cacheDir });
    withMultusRecord(t);
    t.fs.putNamespace('/var/run/netns/test');
    t.exec.register('/opt/cni/bin/macvlan', (call) =>
      call.command === 'DEL' ? { code: 1, stdout: '{"code":11,"msg":"busy"}' } : {},
    );
    await t.agent.start();
    const error = await rejection(del(t));
    expect(error.message).toContain('detaching default/macvlan-conf (san0), which Multus attached, failed');
    expect(await t.fs.stat(scratch)).toBeDefined();
  });

  it('is not read when the agent is told no Multus cache dir: the best-effort DEL of before', async () => {
    const t = testAgent();
    withMultusRecord(t);
    await t.agent.start();
    await del(t);
    expect(t.calls()).not.toContain('DEL macvlan san0');
    expect(await t.fs.stat(scratch)).toBeDefined();
  });

  it('names the file of a record it cannot read', async () => {
    const t = testAgent();
    t.fs.put(scratch, '[{"Name":"x"}]');
    await expect(new MultusCache(t.fs, cacheDir).read(containerId, 'eth0')).rejects.toThrow(
      `Multus' record ${scratch}: delegate 0 has no network configuration (Bytes)`,
    );
    expect(await new MultusCache(t.fs, cacheDir).read('other', 'eth0')).toBeUndefined();
  });
});
