import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postCni, quiesce, serveOnSocket, type Answer } from '../test/doubles/cni-socket.ts';
import { silentLog } from '../test/test-agent.ts';
import { createCniHandler } from './cni-server.ts';

/** What the shim does: one POST /cni over the unix socket. */
const post = postCni;

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
        stats: () => ({ running: 0, waiting: 0 }),
        handle: (req) => {
          handled.push(req.command);
          return Promise.resolve(req.command === 'ADD' ? { cniVersion: '0.4.0', ips: [] } : null);
        },
        log: silentLog,
        bounds: { maxBodyBytes: 1024 },
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
    expect(await post(socket, wire('ADD'))).toMatchObject({
      status: 200,
      json: { result: { cniVersion: '0.4.0', ips: [] } },
    });
    expect(await post(socket, wire('DEL'))).toMatchObject({ status: 200, json: { result: null } });
  });

  it('refuses a request over the size limit with a CNI error (it read no version), not a reset', async () => {
    const before = handled.length;
    const big = wire('ADD', { cniVersion: '0.3.1', padding: 'x'.repeat(4096) });
    const answer = await post(socket, big);
    expect(answer).toMatchObject({
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

  it('refuses JSON nested deeper than a network configuration is, before parsing it', async () => {
    const before = handled.length;
    const deep = `${'['.repeat(65)}${']'.repeat(65)}`;
    const answer = await post(
      socket,
      wire('ADD', { cniVersion: '0.4.0', deep: '[[[not counted' }).replace('"deep"', `"x":${deep},"deep"`),
    );
    expect(answer.json).toEqual({
      error: {
        cniVersion: latest,
        code: 6,
        msg: 'the request nests arrays and objects deeper than 64 levels',
      },
    });
    expect(handled.length).toBe(before);
    // Brackets inside strings are text, not nesting.
    expect(await post(socket, wire('ADD', { cniVersion: '0.4.0', text: '['.repeat(100) }))).toMatchObject({
      json: { result: { cniVersion: '0.4.0' } },
    });
  });
});

describe('the bound on request bytes held at once', () => {
  it('refuses what would exceed it with "try again later", answers the rest, and recovers', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const served = await serveOnSocket(
      createCniHandler({
        stats: () => ({ running: 0, waiting: 0 }),
        handle: () => gate.then(() => null),
        log: silentLog,
        bounds: { maxBodyBytes: 1000, maxBytesInFlight: 2000 },
      }),
    );
    try {
      const body = (id: string): string =>
        JSON.stringify({
          command: 'DEL',
          containerId: id,
          ifName: 'eth0',
          path: '/opt/cni/bin',
          config: { cniVersion: '1.0.0', padding: 'x'.repeat(800) },
        });
      const answers: Answer[] = [];
      const held = [served.post(body('c1')), served.post(body('c2'))].map((p) =>
        p.then((a) => answers.push(a)),
      );
      await quiesce(() => answers.length);
      const refused = await served.post(body('c3'));
      expect(refused.json).toEqual({
        error: {
          cniVersion: latest, // refused before it was parsed
          code: 11,
          msg: 'the agent holds 2000 bytes of CNI requests already; try again later',
        },
      });
      expect(answers).toEqual([]);
      open();
      await Promise.all(held);
      expect(answers.map((a) => a.json)).toEqual([{ result: null }, { result: null }]);
      expect((await served.post(body('c4'))).json).toEqual({ result: null });
    } finally {
      open();
      await served.close();
    }
  });
});

const latest = '1.1.0';
