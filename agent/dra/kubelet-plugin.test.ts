/**
 * The DRA driver's kubelet plugin (registration and DRAPlugin on one socket) as the kubelet calls it:
 * through grpc-go and k8s.io/kubelet's generated clients (test/kubelet-stub -dra-client), with the
 * claims read from an in-memory API and recorded on in-memory files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceName, draDriver, resourceClaimPath } from '../../lib/dra.ts';
import { listenUnixSocket, type UnixSocketListener } from '../../platform/nodejs/listen.ts';
import { createDraPluginServer } from '../../platform/kubelet/dra-plugin.ts';
import type { GrpcServer } from '../../platform/kubelet/grpc-server.ts';
import { MemoryApi } from '../../test/doubles/memory-api.ts';
import { MemoryFs } from '../../test/doubles/memory-ports.ts';
import { DraClient } from '../../test/kubelet-stub/stub.ts';
import { silentLog } from '../../test/test-agent.ts';
import { ClaimPreparer } from './claim-preparer.ts';
import { ClaimStore } from './claim-store.ts';

const me = process.getuid!();
const storageDevice = deviceName('default', 'storage');
/** The pod whose claim pod-a-net the kubelet prepares. */
const podA = {
  namespace: 'default',
  name: 'pod-a',
  uid: 'p',
  annotations: {},
  resourceClaims: ['pod-a-net'],
};

/** A claim allocated `devices` of this driver on node-1, with opaque `parameters` for its requests. */
function claim(
  name: string,
  uid: string,
  devices: Array<Record<string, unknown>>,
  parameters?: unknown,
): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name, namespace: 'default', uid },
    spec: {},
    status: {
      allocation: {
        devices: {
          results: devices.map((d) => ({ driver: draDriver, pool: 'node-1', ...d })),
          config:
            parameters === undefined
              ? []
              : [{ source: 'FromClaim', opaque: { driver: draDriver, parameters } }],
        },
      },
    },
  };
}

describe("the DRA driver's kubelet plugin", () => {
  let dir: string;
  let api: MemoryApi;
  let store: ClaimStore;
  let grpc: GrpcServer;
  let listener: UnixSocketListener;
  let client: DraClient;
  const registrations: string[] = [];
  let socket: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-dra-plugin-'));
    socket = join(dir, 'plugins_registry', `${draDriver}.sock`);
    api = new MemoryApi();
    store = new ClaimStore(new MemoryFs(), '/state', silentLog);
    await store.load();
    const preparer = new ClaimPreparer({
      client: api,
      nodeName: 'node-1',
      store,
      networks: () => [
        { namespace: 'default', name: 'storage' },
        { namespace: 'default', name: 'other' },
      ],
      log: silentLog,
    });
    grpc = createDraPluginServer({
      driverName: draDriver,
      socketPath: socket,
      handlers: {
        prepare: (claims) => preparer.prepare(claims),
        unprepare: (claims) => preparer.unprepare(claims),
        registered: (ok, error) => void registrations.push(`${ok} ${error}`),
      },
    });
    listener = await listenUnixSocket(grpc.server, socket, { owner: me });
    client = DraClient.start(socket);
  }, 300_000);

  afterAll(async () => {
    await client?.stop();
    grpc?.closeConnections();
    await listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers as a DRAPlugin of networks.multinet.io that offers v1.DRAPlugin at the same socket, and hears the verdict', async () => {
    expect(await client.call({ call: 'getInfo' })).toEqual({
      result: { type: 'DRAPlugin', name: draDriver, endpoint: socket, supported_versions: ['v1.DRAPlugin'] },
    });
    expect(await client.call({ call: 'notify', registered: true })).toEqual({ result: {} });
    expect(await client.call({ call: 'notify', registered: false, error: 'no handler' })).toEqual({
      result: {},
    });
    expect(registrations).toEqual(['true ', 'false no handler']);
  });

  it('prepares a claim: its network devices for the kubelet, and which NAD each is, with its config, for the ADD', async () => {
    api.put(
      resourceClaimPath('default', 'pod-a-net'),
      claim(
        'pod-a-net',
        'uid-a',
        [{ request: 'storage', device: storageDevice, shareID: 'b7c2d1e0-0000-4000-8000-000000000001' }],
        {
          interface: 'storage',
          ips: ['203.0.113.5/24'],
        },
      ),
    );
    const answer = await client.call({
      call: 'prepare',
      claims: [{ namespace: 'default', uid: 'uid-a', name: 'pod-a-net' }],
    });
    expect(answer).toEqual({
      result: {
        claims: {
          'uid-a': {
            devices: [
              {
                request_names: ['storage'],
                pool_name: 'node-1',
                device_name: storageDevice,
                share_id: 'b7c2d1e0-0000-4000-8000-000000000001',
              },
            ],
          },
        },
      },
    });
    expect(store.networksOf(podA)).toEqual([
      {
        label: 'resourceClaims "pod-a-net" request "storage"',
        element: { name: 'storage', namespace: 'default', interface: 'storage', ips: ['203.0.113.5/24'] },
        claim: {
          namespace: 'default',
          name: 'pod-a-net',
          uid: 'uid-a',
          request: 'storage',
          pool: 'node-1',
          device: storageDevice,
          shareID: 'b7c2d1e0-0000-4000-8000-000000000001',
        },
      },
    ]);
  });

  it('answers each claim of a batch on its own: a bad config, a device that is no network here, a claim made again, one of another driver', async () => {
    api.put(
      resourceClaimPath('default', 'bad-config'),
      claim('bad-config', 'uid-b', [{ request: 'r', device: storageDevice }], { mac: 'nope' }),
    );
    api.put(
      resourceClaimPath('default', 'gone-nad'),
      claim('gone-nad', 'uid-c', [{ request: 'r', device: 'default-deleted-12345678' }]),
    );
    api.put(resourceClaimPath('default', 'made-again'), claim('made-again', 'uid-new', []));
    api.put(resourceClaimPath('default', 'gpu-only'), {
      ...claim('gpu-only', 'uid-e', []),
      status: {
        allocation: {
          devices: {
            results: [{ request: 'g', driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0' }],
          },
        },
      },
    });
    const answer = (await client.call({
      call: 'prepare',
      claims: [
        { namespace: 'default', uid: 'uid-b', name: 'bad-config' },
        { namespace: 'default', uid: 'uid-c', name: 'gone-nad' },
        { namespace: 'default', uid: 'uid-old', name: 'made-again' },
        { namespace: 'default', uid: 'uid-e', name: 'gpu-only' },
        { namespace: 'default', uid: 'uid-f', name: 'never-made' },
      ],
    })) as { result: { claims: Record<string, { devices?: unknown[]; error?: string }> } };
    expect(answer.result.claims).toEqual({
      'uid-b': {
        error: expect.stringContaining(
          'ResourceClaim default/bad-config: status.allocation.devices.config[0].opaque.parameters.mac: "nope" is not a MAC address',
        ),
      },
      'uid-c': {
        error:
          'ResourceClaim default/gone-nad: device node-1/default-deleted-12345678 is not a network of node node-1 (its NetworkAttachmentDefinition was deleted?)',
      },
      'uid-old': {
        error: 'ResourceClaim default/made-again: UID uid-old no longer exists (the API has uid-new)',
      },
      'uid-e': {},
      'uid-f': {
        error: expect.stringMatching(/^ResourceClaim default\/never-made: cannot read it: .*not found/),
      },
    });
    expect(store.get('uid-b')).toBeUndefined();
    expect(store.get('uid-e')).toEqual({
      version: 1,
      claim: { namespace: 'default', uid: 'uid-e', name: 'gpu-only' },
      devices: [],
    });
  });

  it('unprepares: the claim is forgotten (its file goes), also one it never prepared', async () => {
    expect(store.get('uid-a')).toBeDefined();
    expect(
      await client.call({
        call: 'unprepare',
        claims: [
          { namespace: 'default', uid: 'uid-a', name: 'pod-a-net' },
          { namespace: 'default', uid: 'uid-zz', name: 'unknown' },
        ],
      }),
    ).toEqual({ result: { claims: { 'uid-a': {}, 'uid-zz': {} } } });
    expect(store.get('uid-a')).toBeUndefined();
    expect(store.networksOf(podA)).toEqual([]);
  });

  it('answers an unknown method UNIMPLEMENTED, as a gRPC server does', async () => {
    expect(
      await client.call({ call: 'raw', method: '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/Nope' }),
    ).toEqual({
      code: 12,
      error: 'unknown method /k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/Nope',
    });
  });
});
