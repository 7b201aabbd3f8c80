import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLog } from '../test/test-agent.ts';
import { createCniHandler } from './cni-server.ts';
import { WorkLimiter } from './limiter.ts';

/** What the shim does: one POST /cni over the unix socket. */
function post(socket: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path: '/cni',
        method: 'POST',
        headers: { 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the CNI endpoint', () => {
  let dir: string;
  let server: Server;
  let socket: string;
  const handled: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-cni-server-'));
    socket = join(dir, 'agent.sock');
    server = createServer(
      createCniHandler({
        limiter: new WorkLimiter(2, 10),
        handle: (req) => {
          handled.push(req.command);
          return Promise.resolve(req.command === 'ADD' ? { cniVersion: '0.4.0', ips: [] } : null);
        },
        log: silentLog,
        maxBodyBytes: 1024,
      }),
    );
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const wire = (command: string, config: object = { cniVersion: '0.4.0' }): string =>
    JSON.stringify({
      command,
      containerId: 'c1',
      netns: '/run/netns/x',
      ifName: 'eth0',
      args: '',
      path: '/opt/cni/bin',
      config,
    });

  it("answers with the handler's result, or null for commands without one", async () => {
    expect(await post(socket, wire('ADD'))).toEqual({
      status: 200,
      json: { result: { cniVersion: '0.4.0', ips: [] } },
    });
    expect(await post(socket, wire('DEL'))).toEqual({ status: 200, json: { result: null } });
  });

  it('refuses a request over the size limit with a CNI error (it read no version), not a reset', async () => {
    const before = handled.length;
    const big = wire('ADD', { cniVersion: '0.3.1', padding: 'x'.repeat(4096) });
    const answer = await post(socket, big);
    expect(answer).toEqual({
      status: 200,
      json: {
        error: {
          cniVersion: latest,
          code: 6,
          msg: `the request is ${Buffer.byteLength(big)} bytes; the agent accepts at most 1024 (is the network configuration that large?)`,
        },
      },
    });
    expect(handled.length).toBe(before);
  });

  it("names what is wrong with a request it cannot take, in the request's version where it has one", async () => {
    expect(await post(socket, 'not json')).toMatchObject({
      json: { error: { code: 6, cniVersion: latest } },
    });
    expect(await post(socket, wire('MOVE', { cniVersion: '0.3.0' }))).toMatchObject({
      json: {
        error: { code: 4, cniVersion: '0.3.0', msg: expect.stringContaining('CNI_COMMAND must be one of') },
      },
    });
  });
});

const latest = '1.1.0';
