import { CniError } from './cni/error.ts';
import {
  assignDevices,
  cniDeviceInfoFile,
  devicePluginInfoFile,
  injectDeviceId,
  parseDeviceInfo,
  sortedDevices,
} from './devices.ts';
import { extendedResourceNameError } from './k8s/names.ts';
import { checkNad } from './nad.ts';

const vf = 'multinet.dev/vf';
const gpu = 'example.com/gpu';

describe('assignDevices', () => {
  it('gives the n-th attachment of each resource its n-th device, other attachments none', () => {
    const devices = sortedDevices(
      new Map([
        [vf, ['vf9', 'vf1', 'vf1', 'vf4']],
        [gpu, ['g0']],
      ]),
    );
    expect(devices.get(vf)).toEqual(['vf1', 'vf4', 'vf9']);
    const need = (label: string, resourceName: string): { label: string; resourceName: string } => ({
      label,
      resourceName,
    });
    expect(
      assignDevices([undefined, need('a', vf), need('b', gpu), undefined, need('c', vf)], devices, 'pod x'),
    ).toEqual([undefined, 'vf1', 'g0', undefined, 'vf4']);
  });

  it('throws a CNI error that names the network, the resource, the allocation and the count needed', () => {
    const devices = sortedDevices(new Map([[vf, ['vf1']]]));
    expect(() =>
      assignDevices(
        [
          { label: 'networks[0] "default/a"', resourceName: vf },
          { label: 'networks[1] "default/b"', resourceName: vf },
        ],
        devices,
        'pod default/p',
      ),
    ).toThrow(
      new CniError(
        7,
        'pod default/p: networks[1] "default/b" needs a device of resource "multinet.dev/vf", but the pod requested 1 "multinet.dev/vf" (the kubelet allocated vf1) and 2 of its networks need one each: networks[0] "default/a", networks[1] "default/b"; the pod must request "multinet.dev/vf": 2 in a container\'s resources (the multinet webhook adds it with webhook.injectResources)',
      ),
    );
  });
});

describe('injectDeviceId', () => {
  it('does not change its input', () => {
    const raw = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'sriov' }] };
    const copy = structuredClone(raw);
    injectDeviceId(raw, 'd');
    expect(raw).toEqual(copy);
  });
});

describe('Device Information Spec files', () => {
  it("are named as the spec (device plugin's) and Multus (per attachment) name them", () => {
    expect(devicePluginInfoFile('/var/run/k8s.cni.cncf.io/devinfo', 'intel.com/sriov', '0000:01:00.2')).toBe(
      '/var/run/k8s.cni.cncf.io/devinfo/dp/intel.com-sriov-0000:01:00.2-device.json',
    );
    expect(cniDeviceInfoFile('/d', 'default/sriov-net', 'c0ffee', 'net1')).toBe(
      '/d/cni/default-sriov-net-c0ffee_net1',
    );
  });

  it('are read only when they hold a Device Information map', () => {
    expect(parseDeviceInfo('{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:01:00.2"}}')).toEqual({
      type: 'pci',
      version: '1.1.0',
      pci: { 'pci-address': '0000:01:00.2' },
    });
    expect(parseDeviceInfo('[]')).toBeUndefined();
    expect(parseDeviceInfo('{"version":"1.1.0"}')).toBeUndefined();
    expect(parseDeviceInfo('not json')).toBeUndefined();
  });
});

describe('the resourceName annotation', () => {
  it('accepts device plugin resource names and explains the others', () => {
    expect(extendedResourceNameError('intel.com/sriov_netdevice')).toBeUndefined();
    expect(extendedResourceNameError('multinet.dev/vf')).toBeUndefined();
    expect(extendedResourceNameError('sriov')).toMatch(/must be a device plugin resource name/);
    expect(extendedResourceNameError('a/b/c')).toMatch(/must be a device plugin resource name/);
    expect(extendedResourceNameError('Intel.com/x')).toMatch(
      /^the domain of "Intel.com\/x" must be a DNS-1123/,
    );
    expect(extendedResourceNameError('kubernetes.io/x')).toMatch(/kubernetes.io domain/);
    expect(extendedResourceNameError('example.com/-x')).toMatch(/name part/);
  });

  it('is checked on the NAD, and given to its users', () => {
    const nad = (annotations: Record<string, unknown>): unknown => ({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'vf-net', annotations },
      spec: { config: '{"cniVersion":"1.0.0","type":"host-device"}' },
    });
    const good = checkNad(nad({ 'k8s.v1.cni.cncf.io/resourceName': vf }));
    expect(good).toMatchObject({ accepted: true, resourceName: vf });
    const bad = checkNad(nad({ 'k8s.v1.cni.cncf.io/resourceName': 'sriov' }));
    expect(bad.accepted).toBe(false);
    expect(!bad.accepted && bad.problems[0]!.path).toBe(
      'metadata.annotations["k8s.v1.cni.cncf.io/resourceName"]',
    );
    expect(checkNad(nad({}))).not.toHaveProperty('resourceName');
  });
});
