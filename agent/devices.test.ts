/**
 * Device networks in the agent (in-memory ports): which device each attachment gets, what its delegate
 * is given, the Device Information Spec's files around it, and DEL from the record after the kubelet
 * (or the agent) forgot the allocation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../dev/repo-root.ts';
import { validateCniConfig } from '../lib/cni/config.ts';
import { CniErrorCode } from '../lib/cni/error.ts';
import type { JsonObject } from '../lib/safe-json.ts';
import { sortedDevices, type PodDevices } from '../lib/devices.ts';
import { MemoryFs, type PluginCall } from '../test/doubles/memory-ports.ts';
import { okPlugin, rejection, silentLog, testAgent } from '../test/test-agent.ts';
import { DeviceAttacher, type PodDeviceSource } from './devices.ts';

const vf = 'multinet.dev/vf';
const resource = (name: string): Record<string, string> => ({ 'k8s.v1.cni.cncf.io/resourceName': name });
const infoDir = '/var/run/k8s.cni.cncf.io/devinfo';

/** A kubelet whose pod-resources answer is `devices` for every pod; counts the questions. */
class FakeKubelet implements PodDeviceSource {
  asked: string[] = [];
  devices: PodDevices;
  failure: Error | undefined;
  constructor(devices: Record<string, string[]>) {
    this.devices = sortedDevices(new Map(Object.entries(devices)));
  }
  devicesOf(pod: { namespace: string; name: string }): Promise<PodDevices> {
    this.asked.push(`${pod.namespace}/${pod.name}`);
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(this.devices);
  }
}

/** The plugin calls other than the default network's, as [plugin, ifName, stdin]. */
function delegateCalls(calls: readonly PluginCall[], command = 'ADD'): PluginCall[] {
  return calls.filter((c) => c.command === command && c.ifName !== 'eth0');
}

describe('device networks', () => {
  it('gives two attachments of one NAD two devices, in sorted order, asking the kubelet once', async () => {
    const kubelet = new FakeKubelet({ [vf]: ['vf3', 'vf1'], 'example.com/other': ['x'] });
    const t = testAgent({}, undefined, undefined, undefined, kubelet);
    t.addNad(
      'vf-net',
      { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9', capabilities: { deviceID: true } },
      'default',
      resource(vf),
    );
    t.addNad('plain', { cniVersion: '1.0.0', type: 'bridge' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net,plain,vf-net' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(kubelet.asked).toEqual(['default/samplepod']);
    const calls = delegateCalls(t.exec.calls);
    expect(calls.map((c) => [c.plugin, c.ifName, c.stdin.deviceID, c.stdin.pciBusID])).toEqual([
      ['macvlan', 'net1', 'vf1', 'vf1'],
      ['bridge', 'net2', undefined, undefined],
      ['macvlan', 'net3', 'vf3', 'vf3'],
    ]);
    expect(calls[0]!.stdin.runtimeConfig).toEqual({ deviceID: 'vf1' });
  });

  it('injects into every plugin of a list, and runtimeConfig only into the plugins that declare it', async () => {
    const kubelet = new FakeKubelet({ [vf]: ['0000:01:00.2'] });
    const t = testAgent({}, undefined, undefined, undefined, kubelet);
    t.addNad(
      'sriov',
      {
        cniVersion: '1.0.0',
        name: 'sriov-list',
        plugins: [
          { type: 'macvlan', master: 'eth9', capabilities: { deviceID: true, CNIDeviceInfoFile: true } },
          { type: 'tuning' },
        ],
      },
      'default',
      resource(vf),
    );
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'sriov@vf0' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    const [macvlan, tuning] = delegateCalls(t.exec.calls);
    expect(macvlan!.stdin).toMatchObject({
      deviceID: '0000:01:00.2',
      pciBusID: '0000:01:00.2',
      runtimeConfig: {
        deviceID: '0000:01:00.2',
        CNIDeviceInfoFile: `${infoDir}/cni/default-sriov-c1_vf0`,
      },
    });
    expect(tuning!.stdin).toMatchObject({ deviceID: '0000:01:00.2', pciBusID: '0000:01:00.2' });
    expect(tuning!.stdin.runtimeConfig).toBeUndefined();
  });

  it('asks the kubelet nothing for a pod without device networks', async () => {
    const kubelet = new FakeKubelet({});
    kubelet.failure = new Error('must not be asked');
    const t = testAgent({}, undefined, undefined, undefined, kubelet);
    t.addNad('plain', { cniVersion: '1.0.0', type: 'bridge' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'plain' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    expect(kubelet.asked).toEqual([]);
  });

  /** An agent whose "vf" plugin calls onAdd with its CNIDeviceInfoFile; the pod selects vf-net once. */
  async function vfAttach(
    fs: MemoryFs,
    onAdd: (infoFile: string) => Promise<void> | void,
  ): Promise<{ t: ReturnType<typeof testAgent>; status: Array<Record<string, unknown>> }> {
    const t = testAgent({}, fs, undefined, undefined, new FakeKubelet({ [vf]: ['vf1'] }));
    t.exec.register('/opt/cni/bin/vf', async (call) => {
      if (call.command === 'ADD')
        await onAdd((call.stdin.runtimeConfig as { CNIDeviceInfoFile: string }).CNIDeviceInfoFile);
      return okPlugin(call);
    });
    t.addNad(
      'vf-net',
      { cniVersion: '1.0.0', type: 'vf', capabilities: { CNIDeviceInfoFile: true } },
      'default',
      resource(vf),
    );
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    const status = JSON.parse(await fs.readFile('/state/network-status/default_samplepod.json')) as Array<
      Record<string, unknown>
    >;
    return { t, status };
  }

  it("copies the device plugin's device-info to the attachment's file, reports it, and removes it on DEL", async () => {
    const fs = new MemoryFs();
    const info = { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:fe:00.1' } };
    fs.put(`${infoDir}/dp/multinet.dev-vf-vf1-device.json`, JSON.stringify(info));
    const seenByPlugin: unknown[] = [];
    const { t, status } = await vfAttach(fs, async (file) => {
      seenByPlugin.push(JSON.parse(await fs.readFile(file)));
    });
    expect(seenByPlugin).toEqual([info]);
    expect(status.map((s) => [s.interface, s['device-info']])).toEqual([
      ['eth0', undefined],
      ['net1', info],
    ]);
    const cniFile = `${infoDir}/cni/default-vf-net-c1_net1`;
    expect(fs.files.has(cniFile)).toBe(true);
    await t.agent.attacher.handle(t.request('DEL'));
    expect(fs.files.has(cniFile)).toBe(false);
    expect(fs.files.has(`${infoDir}/dp/multinet.dev-vf-vf1-device.json`)).toBe(true);
  });

  it('reports what the delegate wrote itself when the device plugin wrote nothing', async () => {
    const fs = new MemoryFs();
    const written = {
      type: 'vhost-user',
      version: '1.1.0',
      'vhost-user': { mode: 'server', path: '/x.sock' },
    };
    const { status } = await vfAttach(fs, (file) => fs.put(file, JSON.stringify(written)));
    expect(status[1]!['device-info']).toEqual(written);
  });

  it('DELs the recorded devices after an agent restart, asking the kubelet nothing', async () => {
    const fs = new MemoryFs();
    const first = new FakeKubelet({ [vf]: ['vf2', 'vf5'] });
    const t = testAgent({}, fs, undefined, undefined, first);
    t.addNad('vf-net', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' }, 'default', resource(vf));
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net,vf-net' });
    await t.agent.start();
    await t.agent.attacher.handle(t.request('ADD'));
    // A new agent on the same node: the kubelet has released the pod's devices and now fails.
    const gone = new FakeKubelet({});
    gone.failure = new Error('no such pod');
    const restarted = testAgent({}, fs, t.exec, undefined, gone);
    await restarted.agent.start();
    const before = t.exec.calls.length;
    await restarted.agent.attacher.handle(restarted.request('DEL'));
    expect(gone.asked).toEqual([]);
    expect(delegateCalls(t.exec.calls.slice(before), 'DEL').map((c) => [c.ifName, c.stdin.deviceID])).toEqual(
      [
        ['net2', 'vf5'],
        ['net1', 'vf2'],
      ],
    );
  });

  it('fails ADD naming the NAD, the resource and what the pod requested when it has too few devices', async () => {
    const t = testAgent({}, undefined, undefined, undefined, new FakeKubelet({ [vf]: ['vf1'] }));
    t.addNad('vf-net', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' }, 'default', resource(vf));
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net,vf-net' });
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.code).toBe(CniErrorCode.invalidConfig);
    expect(error.message).toBe(
      'pod default/samplepod: default/vf-net needs a device of resource "multinet.dev/vf", but the pod requested 1 "multinet.dev/vf" (the kubelet allocated vf1) and 2 of its networks need one each: default/vf-net, default/vf-net; the pod must request "multinet.dev/vf": 2 in a container\'s resources (the multinet webhook adds it with webhook.injectResources)',
    );
    expect(t.calls()).toEqual([]);
    const none = testAgent({}, undefined, undefined, undefined, new FakeKubelet({}));
    none.addNad('vf-net', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' }, 'default', resource(vf));
    none.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net' });
    await none.agent.start();
    expect((await rejection(none.agent.attacher.handle(none.request('ADD')))).message).toContain(
      'but the pod requested no "multinet.dev/vf" (the kubelet allocated it none) and 1 of its networks need one each',
    );
  });

  it('fails ADD with "try again later" naming the kubelet\'s trouble, before any delegate runs', async () => {
    const kubelet = new FakeKubelet({});
    kubelet.failure = new Error(
      "the kubelet's pod-resources socket /var/lib/kubelet/pod-resources/kubelet.sock does not exist",
    );
    const t = testAgent({}, undefined, undefined, undefined, kubelet);
    t.addNad('vf-net', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' }, 'default', resource(vf));
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net' });
    await t.agent.start();
    const error = await rejection(t.agent.attacher.handle(t.request('ADD')));
    expect(error.code).toBe(CniErrorCode.tryAgainLater);
    expect(error.message).toBe(
      `pod default/samplepod: cannot learn the devices the kubelet allocated to the pod for default/vf-net (resource "multinet.dev/vf"): the kubelet's pod-resources socket /var/lib/kubelet/pod-resources/kubelet.sock does not exist`,
    );
    expect(t.calls()).toEqual([]);
  });

  it("rolls back a failed ADD with the device it gave, and removes the attachment's device-info file", async () => {
    const fs = new MemoryFs();
    fs.put(
      `${infoDir}/dp/multinet.dev-vf-vf1-device.json`,
      JSON.stringify({ type: 'pci', version: '1.1.0' }),
    );
    const t = testAgent({}, fs, undefined, undefined, new FakeKubelet({ [vf]: ['vf1'] }));
    t.exec.register('/opt/cni/bin/broken', (call) =>
      call.command === 'ADD'
        ? { code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'no' }) }
        : {},
    );
    t.addNad('vf-net', { cniVersion: '1.0.0', type: 'macvlan', master: 'eth9' }, 'default', resource(vf));
    t.addNad('bad', { cniVersion: '1.0.0', type: 'broken' });
    t.addPod('samplepod', { 'k8s.v1.cni.cncf.io/networks': 'vf-net,bad' });
    await t.agent.start();
    await rejection(t.agent.attacher.handle(t.request('ADD')));
    const del = delegateCalls(t.exec.calls, 'DEL').find((c) => c.plugin === 'macvlan');
    expect(del?.stdin.deviceID).toBe('vf1');
    expect(fs.files.has(`${infoDir}/cni/default-vf-net-c1_net1`)).toBe(false);
  });
});

interface MultusCase {
  readonly name: string;
  readonly namespace: string;
  readonly network: string;
  readonly containerID: string;
  readonly ifName: string;
  readonly deviceID: string;
  readonly resourceName: string;
  readonly config: JsonObject;
  readonly multus: { readonly config: JsonObject; readonly capabilityArgs: JsonObject };
}

const multusCases = (
  JSON.parse(
    readFileSync(join(repoRoot, 'test', 'fixtures', 'devices', 'multus-injection.json'), 'utf8'),
  ) as { cases: MultusCase[] }
).cases;

describe("the delegate a device network gets, against Multus' (test/fixtures/devices/multus-injection.json)", () => {
  it.each(multusCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const attacher = new DeviceAttacher({
      source: new FakeKubelet({ [c.resourceName]: [c.deviceID] }),
      fs: new MemoryFs(),
      infoDir,
      log: silentLog,
    });
    const network = `${c.namespace}/${c.network}`;
    const [attachment] = await attacher.assign(
      [
        {
          network: { name: network, config: validateCniConfig(c.config, { defaultName: c.network }).config },
          isDefault: false,
          ifName: c.ifName,
          runtimeConfig: {},
          resourceName: c.resourceName,
        },
      ],
      { namespace: 'default', name: 'pod', uid: 'u' },
      c.containerID,
    );
    expect(attachment!.network.config.raw).toEqual(c.multus.config);
    expect(attachment!.runtimeConfig).toEqual(c.multus.capabilityArgs);
  });
});
