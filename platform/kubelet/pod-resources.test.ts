/**
 * The pod-resources client against a real gRPC server of k8s.io/kubelet's podresources v1 API (the Go
 * kubelet stub of test/kubelet-stub, built from the kubelet's own generated code), and the protobuf
 * reader against hand-encoded messages with fields it must skip.
 */
import http2 from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeletStub, kubeletStubBinary } from '../../test/kubelet-stub/stub.ts';
import { PodResourcesClient, PodResourcesError, podDevicesFromList } from './pod-resources.ts';
import { ProtobufError } from './protobuf.ts';

const vf = 'multinet.dev/vf';

/** Protobuf encoding, for hand-made messages. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (n: number, wireType: number): number[] => varint(n * 8 + wireType);
const bytes = (n: number, body: number[]): number[] => [...field(n, 2), ...varint(body.length), ...body];
const text = (n: number, value: string): number[] => bytes(n, [...Buffer.from(value)]);

describe('podDevicesFromList (protobuf)', () => {
  it('reads the pod, skips varint, 64-bit, 32-bit and unknown nested fields, and sorts the IDs', () => {
    const devices = [
      ...text(1, vf),
      ...text(2, 'vf3'),
      ...text(2, 'vf1'),
      ...bytes(3, [...bytes(1, [...field(1, 0), ...varint(7)])]), // topology
      ...field(9, 1),
      ...[1, 2, 3, 4, 5, 6, 7, 8], // an unknown 64-bit field
    ];
    const container = [
      ...text(1, 'main'),
      ...bytes(2, devices),
      ...field(3, 0),
      ...varint(300),
      ...field(7, 5),
      1,
      2,
      3,
      4,
    ];
    const other = [
      ...text(1, 'other'),
      ...text(2, 'ns'),
      ...bytes(3, [...bytes(2, [...text(1, vf), ...text(2, 'vf0')])]),
    ];
    const pod = [
      ...text(2, 'ns'),
      ...text(1, 'pod'),
      ...bytes(3, container),
      ...bytes(3, [...bytes(2, [...text(1, vf), ...text(2, 'vf2')])]),
    ];
    const response = Uint8Array.from([
      ...bytes(1, other),
      ...bytes(1, pod),
      ...field(2, 0),
      ...varint(2 ** 40),
    ]);
    expect(podDevicesFromList(response, 'ns', 'pod')).toEqual(new Map([[vf, ['vf1', 'vf2', 'vf3']]]));
    expect(podDevicesFromList(response, 'ns', 'missing')).toEqual(new Map());
  });

  it('refuses a truncated message instead of reading past it', () => {
    const pod = [...text(1, 'pod'), ...text(2, 'ns')];
    const whole = [...bytes(1, pod)];
    expect(() => podDevicesFromList(Uint8Array.from(whole.slice(0, -2)), 'ns', 'pod')).toThrow(ProtobufError);
    expect(() => podDevicesFromList(Uint8Array.from([...field(1, 3)]), 'ns', 'pod')).toThrow(/wire type 3/);
  });
});

describe('PodResourcesClient against a gRPC server of the kubelet API', () => {
  let dir: string;
  let stub: KubeletStub;
  let client: PodResourcesClient;
  const observed: string[] = [];

  beforeAll(async () => {
    kubeletStubBinary(); // the first build takes a while: not inside a test's time
    dir = mkdtempSync(join(tmpdir(), 'multinet-podres-'));
    stub = await KubeletStub.start(dir);
    client = new PodResourcesClient({
      socketPath: stub.socket,
      timeoutMs: 2000,
      observe: (outcome) => observed.push(outcome),
    });
  }, 300_000);

  afterAll(async () => {
    client?.close();
    await stub?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives the pod's devices by resource, every container's together, sorted, and no other pod's", async () => {
    stub.setState({
      pods: [
        {
          namespace: 'default',
          name: 'other',
          containers: [{ name: 'c', devices: [{ resourceName: vf, deviceIds: ['a0'] }] }],
        },
        {
          namespace: 'default',
          name: 'two-vfs',
          containers: [
            { name: 'main', devices: [{ resourceName: vf, deviceIds: ['vf7', 'vf2'] }] },
            {
              name: 'side',
              devices: [
                { resourceName: vf, deviceIds: ['vf4'] },
                { resourceName: 'example.com/gpu', deviceIds: ['gpu1'] },
              ],
            },
          ],
        },
      ],
    });
    const devices = await client.devicesOf({ namespace: 'default', name: 'two-vfs' });
    expect(devices).toEqual(
      new Map([
        [vf, ['vf2', 'vf4', 'vf7']],
        ['example.com/gpu', ['gpu1']],
      ]),
    );
    expect(await client.devicesOf({ namespace: 'other-ns', name: 'two-vfs' })).toEqual(new Map());
    expect(observed.slice(-2)).toEqual(['ok', 'ok']);
  });

  it('reads an answer of several MB (many HTTP/2 frames, past the flow-control window)', async () => {
    stub.setState({
      padPods: 40_000,
      pods: [
        {
          namespace: 'big',
          name: 'pod',
          containers: [{ name: 'c', devices: [{ resourceName: vf, deviceIds: ['x'] }] }],
        },
      ],
    });
    expect(await client.devicesOf({ namespace: 'big', name: 'pod' })).toEqual(new Map([[vf, ['x']]]));
  });

  it("fails with the server's gRPC status, naming the socket", async () => {
    stub.setState({ pods: [], error: { code: 14, message: 'the kubelet is shutting down' } });
    const error = await client.devicesOf({ namespace: 'default', name: 'p' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodResourcesError);
    expect((error as PodResourcesError).failure).toBe('status');
    expect((error as Error).message).toBe(
      `the kubelet's pod-resources socket ${stub.socket} (/v1.PodResourcesLister/List) failed: UNAVAILABLE: the kubelet is shutting down`,
    );
    expect(observed.at(-1)).toBe('error');
  });

  it('gives up on a slow kubelet after the timeout, and the next call works', async () => {
    stub.setState({ pods: [], delayMs: 5000 });
    const quick = new PodResourcesClient({ socketPath: stub.socket, timeoutMs: 300 });
    const started = performance.now();
    const error = await quick.devicesOf({ namespace: 'default', name: 'p' }).catch((e: unknown) => e);
    const ms = performance.now() - started;
    expect((error as PodResourcesError).failure).toBe('timeout');
    expect((error as Error).message).toBe(
      `the kubelet's pod-resources socket ${stub.socket} did not answer /v1.PodResourcesLister/List within 300 ms`,
    );
    expect(ms).toBeLessThan(3000);
    stub.setState({ pods: [] });
    expect(await quick.devicesOf({ namespace: 'default', name: 'p' })).toEqual(new Map());
    quick.close();
  });

  it('connects again after the kubelet restarted', async () => {
    stub.setState({
      pods: [
        {
          namespace: 'a',
          name: 'b',
          containers: [{ name: 'c', devices: [{ resourceName: vf, deviceIds: ['d'] }] }],
        },
      ],
    });
    expect(await client.devicesOf({ namespace: 'a', name: 'b' })).toEqual(new Map([[vf, ['d']]]));
    await stub.stop();
    stub = await KubeletStub.start(dir, {
      pods: [
        {
          namespace: 'a',
          name: 'b',
          containers: [{ name: 'c', devices: [{ resourceName: vf, deviceIds: ['e'] }] }],
        },
      ],
    });
    // The first call may still meet the old connection's end; the client then connects again.
    const answer = await client
      .devicesOf({ namespace: 'a', name: 'b' })
      .catch(() => client.devicesOf({ namespace: 'a', name: 'b' }));
    expect(answer).toEqual(new Map([[vf, ['e']]]));
  });

  it('names a socket that does not exist, and one nobody listens on', async () => {
    const missing = join(dir, 'nope', 'kubelet.sock');
    const absent = new PodResourcesClient({ socketPath: missing, timeoutMs: 2000 });
    const error = await absent.devicesOf({ namespace: 'a', name: 'b' }).catch((e: unknown) => e);
    expect((error as PodResourcesError).failure).toBe('no-socket');
    expect((error as Error).message).toBe(`the kubelet's pod-resources socket ${missing} does not exist`);
    const dead = join(dir, 'dead.sock');
    writeFileSync(dead, '');
    const refused = new PodResourcesClient({ socketPath: dead, timeoutMs: 2000 });
    const error2 = await refused.devicesOf({ namespace: 'a', name: 'b' }).catch((e: unknown) => e);
    expect((error2 as PodResourcesError).failure).toBe('unreachable');
    expect((error2 as Error).message).toBe(
      `the kubelet's pod-resources socket ${dead}: nothing listens on it (connection refused)`,
    );
  });

  it('refuses an HTTP/2 server that does not speak gRPC', async () => {
    const path = join(dir, 'not-grpc.sock');
    const server = http2.createServer((_req, res) => {
      res.writeHead(404);
      res.end('no such thing');
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const wrong = new PodResourcesClient({ socketPath: path, timeoutMs: 2000 });
      const error = await wrong.devicesOf({ namespace: 'a', name: 'b' }).catch((e: unknown) => e);
      expect((error as PodResourcesError).failure).toBe('protocol');
      expect((error as Error).message).toBe(
        `the kubelet's pod-resources socket ${path} (/v1.PodResourcesLister/List) answered HTTP 404, not a gRPC answer`,
      );
      wrong.close();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
