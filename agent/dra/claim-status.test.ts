import { draDriver, resourceClaimPath, type ClaimDeviceRef } from '../../lib/dra.ts';
import { KubeApiError } from '../../platform/kube/rest.ts';
import { MemoryApi } from '../../test/doubles/memory-api.ts';
import { silentLog } from '../../test/test-agent.ts';
import { ClaimStatusWriter } from './claim-status.ts';

const path = resourceClaimPath('default', 'pod-a-net');
const gpu = { driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0', conditions: [] };
const ref: ClaimDeviceRef = {
  namespace: 'default',
  name: 'pod-a-net',
  uid: 'uid-a',
  request: 'storage',
  pool: 'node-1',
  device: 'default-storage-1234abcd',
  shareID: 'b7c2d1e0-0000-4000-8000-000000000001',
};
const pod = { namespace: 'default', name: 'pod-a', uid: 'p1' };
const result = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'storage', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/x' }],
  ips: [{ address: '203.0.113.5/24', interface: 0 }],
};

function setup(uid = 'uid-a'): { api: MemoryApi; writer: ClaimStatusWriter; devices: () => unknown } {
  const api = new MemoryApi();
  api.put(path, { metadata: { name: 'pod-a-net', namespace: 'default', uid }, status: { devices: [gpu] } });
  const writer = new ClaimStatusWriter({
    client: api,
    log: silentLog,
    now: () => new Date('2026-12-07T10:00:00Z'),
  });
  return { api, writer, devices: () => (api.get(path)!.status as { devices: unknown }).devices };
}

describe("a ResourceClaim's status.devices", () => {
  it("gets a Ready entry with networkData for each attached device beside the other drivers' entries, which it loses at DEL", async () => {
    const { writer, devices } = setup();
    writer.attached(pod, [{ claim: ref, ifName: 'storage', result }]);
    await writer.idle();
    expect(devices()).toEqual([
      gpu,
      {
        driver: draDriver,
        pool: 'node-1',
        device: ref.device,
        shareID: ref.shareID,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Attached',
            message: 'attached to pod default/pod-a as storage',
            lastTransitionTime: '2026-12-07T10:00:00Z',
          },
        ],
        networkData: {
          interfaceName: 'storage',
          ips: ['203.0.113.5/24'],
          hardwareAddress: '02:00:00:00:00:01',
        },
      },
    ]);
    writer.detached(pod, [ref]);
    await writer.idle();
    expect(devices()).toEqual([gpu]);
  });

  it("writes with the claim's resourceVersion, reads again after a conflict, and leaves a claim of another UID alone", async () => {
    const { api, writer, devices } = setup();
    let conflicts = 1;
    api.intercept = (request) => {
      if (request.method === 'PATCH' && conflicts-- > 0) throw new KubeApiError(409, 'Conflict', 'modified');
    };
    writer.attached(pod, [{ claim: ref, ifName: 'storage', result }]);
    await writer.idle();
    expect(api.log.filter((l) => l.startsWith('PATCH'))).toHaveLength(2);
    expect((devices() as unknown[]).length).toBe(2);
    const other = setup('uid-other');
    other.writer.attached(pod, [{ claim: ref, ifName: 'storage', result }]);
    await other.writer.idle();
    expect(other.api.log.filter((l) => l.startsWith('PATCH'))).toEqual([]);
    expect(other.devices()).toEqual([gpu]);
  });

  it('gives up quietly on a claim that is gone or a write the API forbids', async () => {
    const { api, writer } = setup();
    api.objects.delete(path);
    writer.attached(pod, [{ claim: ref, ifName: 'storage', result }]);
    await writer.idle();
    const forbidden = setup();
    forbidden.api.intercept = (request) => {
      if (request.method === 'PATCH') throw new KubeApiError(403, 'Forbidden', 'not on your node');
    };
    forbidden.writer.attached(pod, [{ claim: ref, ifName: 'storage', result }]);
    await forbidden.writer.idle();
    expect(forbidden.api.log.filter((l) => l.startsWith('PATCH'))).toHaveLength(1);
  });
});
