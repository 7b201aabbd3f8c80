import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postCni, serveOnSocket, wireRequest, type Answer } from '../test/doubles/cni-socket.ts';
import { eventually } from '../dev/eventually.ts';
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
        agentVersion: '0.1.0',
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

  it('names its version and protocol in every answer', async () => {
    const answer = await post(socket, wire('DEL'));
    expect(answer.headers).toMatchObject({ 'multinet-agent-version': '0.1.0', 'multinet-protocol': '1' });
    expect((await post(socket, 'not json')).headers['multinet-agent-version']).toBe('0.1.0');
  });

  it('serves a shim of its protocol whatever its version, and one from before version headers', async () => {
    const skew = { 'multinet-shim-version': '0.0.1', 'multinet-protocol': '1' };
    expect(await post(socket, wire('DEL'), '/cni', 'POST', skew)).toMatchObject({ json: { result: null } });
    expect(await post(socket, wire('DEL'))).toMatchObject({ json: { result: null } });
  });

  it('refuses a shim of a protocol it does not serve, naming both versions, before reading the body', async () => {
    const before = handled.length;
    const answer = await post(socket, wire('ADD', { cniVersion: '0.3.1' }), '/cni', 'POST', {
      'multinet-shim-version': '9.9.9',
      'multinet-protocol': '2',
      'cni-version': '0.4.0',
    });
    expect(answer.json).toEqual({
      error: {
        cniVersion: '0.4.0',
        code: 11,
        msg: expect.stringMatching(
          /^multinet-cni 9\.9\.9 speaks wire protocol 2; the multinet agent 0\.1\.0 on this node serves protocol 1: /,
        ),
      },
    });
    expect(handled.length).toBe(before);
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
    let handling = 0;
    let bothHeld!: () => void;
    const held2 = new Promise<void>((resolve) => (bothHeld = resolve));
    const served = await serveOnSocket(
      createCniHandler({
        agentVersion: '0.1.0',
        stats: () => ({ running: 0, waiting: 0 }),
        handle: () => {
          if (++handling === 2) bothHeld();
          return gate.then(() => null);
        },
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
      await held2; // both read and being handled: their bytes are held
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

/**
 * A raw HTTP client: declares `declared` body bytes (the body's length by default) and sends `body`
 * (a stalled body when shorter), with the given headers; `answer` settles with what the agent wrote
 * back once the connection closes.
 */
function rawPost(
  socket: string,
  body: string | Buffer,
  declared = Buffer.byteLength(body),
  headers: Record<string, string> = {},
): { connection: Socket; answer: Promise<string> } {
  const connection = connect(socket);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  connection.write(
    `POST /cni HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: ${declared}\r\n${extra}\r\n`,
  );
  connection.write(body);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    connection.on('data', (chunk: Buffer) => (text += chunk.toString()));
    connection.on('close', () => resolve(text));
    connection.on('error', () => resolve(text));
  });
  return { connection, answer };
}

/** The CNI reply at the end of a raw HTTP answer. */
function replyOf(raw: string): unknown {
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
}

describe('clients that stall their request bodies', () => {
  const handler = (bounds = {}): ReturnType<typeof createCniHandler> =>
    createCniHandler({
      agentVersion: '0.1.0',
      stats: () => ({ running: 0, waiting: 0 }),
      handle: (req) => Promise.resolve(req.command === 'ADD' ? { cniVersion: '1.0.0', ips: [] } : null),
      log: silentLog,
      bounds,
    });

  it('16 bodies stalled 10 bytes short of 1 MiB leave room for a real CNI request (the default bounds)', async () => {
    const served = await serveOnSocket(handler());
    const stalled = Array.from({ length: 16 }, () =>
      rawPost(served.socket, Buffer.alloc((1 << 20) - 10, 0x20), 1 << 20),
    );
    try {
      // The stalled bodies hold what large requests may hold: another large one is refused.
      const large = wireRequest({
        command: 'ADD',
        containerId: 'big',
        ifName: 'eth0',
        netns: '/run/netns/x',
      });
      await eventually(
        'the stalled bodies to hold the budget',
        async () =>
          (
            (await served.post(large.replace('"config":{', `"config":{"pad":"${'x'.repeat(100_000)}",`)))
              .json as { error?: { code: number } }
          ).error?.code === 11,
        10_000,
      );
      const real = wireRequest({ command: 'ADD', containerId: 'c1', ifName: 'eth0', netns: '/run/netns/x' });
      expect((await served.post(real)).json).toEqual({ result: { cniVersion: '1.0.0', ips: [] } });
    } finally {
      for (const { connection } of stalled) connection.destroy();
      await served.close();
    }
  });

  it('answers a body that does not arrive in time with a CNI error, closes the connection and frees its bytes', async () => {
    const served = await serveOnSocket(
      handler({ bodyTimeoutMs: 200, maxBodyBytes: 1000, maxBytesInFlight: 1000, reservedForSmallBytes: 0 }),
    );
    try {
      const { answer } = rawPost(served.socket, Buffer.alloc(890, 0x20), 900, { 'cni-version': '0.4.0' });
      const raw = await Promise.race([
        answer,
        new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000)),
      ]);
      expect(raw).toMatch(/^HTTP\/1\.1 200/);
      expect(replyOf(raw)).toEqual({
        error: {
          cniVersion: '0.4.0', // the shim's, since the request could not be read
          code: 5,
          msg: 'the request body did not arrive within 0.2 s (890 of 900 bytes)',
        },
      });
      // Its 890 bytes are free again: a request of 900 bytes fits.
      const real = wireRequest({ command: 'DEL', containerId: 'c1', ifName: 'eth0' });
      expect(
        (
          await served.post(
            real.replace('"config":{', `"config":{"pad":"${'x'.repeat(900 - real.length - 9)}",`),
          )
        ).json,
      ).toEqual({
        result: null,
      });
    } finally {
      await served.close();
    }
  });
});

describe('the cniVersion of refusals before the body is parsed', () => {
  it("is the one the shim sends in its cni-version header, the request's once it can be read", async () => {
    const served = await serveOnSocket(
      createCniHandler({
        agentVersion: '0.1.0',
        stats: () => ({ running: 0, waiting: 0 }),
        handle: () => Promise.resolve(null),
        log: silentLog,
        bounds: { maxBodyBytes: 100 },
      }),
    );
    try {
      const big = JSON.stringify({ command: 'ADD', config: { cniVersion: '0.3.1', pad: 'x'.repeat(200) } });
      const tooLarge = rawPost(served.socket, big, undefined, { 'cni-version': '0.3.1' });
      expect(replyOf(await tooLarge.answer)).toMatchObject({ error: { code: 6, cniVersion: '0.3.1' } });
      const notJson = rawPost(served.socket, 'not json', undefined, { 'cni-version': '1.0.0' });
      expect(replyOf(await notJson.answer)).toMatchObject({ error: { code: 6, cniVersion: '1.0.0' } });
      const parsed = JSON.stringify({ command: 'MOVE', config: { cniVersion: '0.4.0' } });
      const refused = rawPost(served.socket, parsed, undefined, { 'cni-version': '1.0.0' });
      expect(replyOf(await refused.answer)).toMatchObject({ error: { code: 4, cniVersion: '0.4.0' } });
      // Without the header (not the shim): the latest version.
      expect(replyOf(await rawPost(served.socket, big).answer)).toMatchObject({
        error: { code: 6, cniVersion: latest },
      });
    } finally {
      await served.close();
    }
  });
});

const latest = '1.1.0';
