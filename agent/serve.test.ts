/**
 * Two agents on one node, as a DaemonSet rolled with maxSurge runs them for a while: the new one takes
 * the socket path and then the probe port over, the old one's stop leaves both with the new one, and an
 * agent whose socket path was removed fails its liveness check.
 */
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { eventually } from '../dev/eventually.ts';
import { freeLoopbackPort, listenTcp, listenUnixSocket } from '../platform/nodejs/listen.ts';
import { silentLog } from '../test/test-agent.ts';
import { serveAgent, type ServedAgent } from './serve.ts';

const me = process.getuid!();

/** An "agent" whose CNI handler answers with its name. */
function named(name: string): { handler: Parameters<typeof serveAgent>[0]['handler'] } {
  return { handler: (_req, res) => res.end(name) };
}

/** GET path over the unix socket: the body, or the connection error's code. */
function overSocket(socket: string, path = '/'): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    req.end();
  });
}

async function probe(port: number, path: '/healthz' | '/readyz'): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe('agents that follow each other on one socket path and probe port', () => {
  let dir: string;
  const served: ServedAgent[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-serve-'));
  });
  afterEach(async () => {
    for (const agent of served.splice(0)) await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = (name: string, socketPath: string, port: number): Promise<ServedAgent> =>
    serveAgent(
      named(name),
      {
        socketPath,
        probe: { host: '127.0.0.1', port },
        registry: new Registry(),
        log: silentLog,
        socketCheckMs: 20,
      },
      {
        unixSocket: (server, path) => listenUnixSocket(server, path, { owner: me }),
        tcp: listenTcp,
      },
    ).then((agent) => {
      served.push(agent);
      return agent;
    });

  it('the new agent takes the socket and the probe port over; the old one stops without removing them', async () => {
    const socket = join(dir, 'agent.sock');
    const port = await freeLoopbackPort();
    const old = await serve('old', socket, port);
    expect([await overSocket(socket), await probe(port, '/healthz'), await probe(port, '/readyz')]).toEqual([
      'old',
      200,
      200,
    ]);
    // The old agent holds the probe port: the new one waits until the old one sees its socket replaced.
    const successor = await serve('new', socket, port);
    expect(successor.probePort).toBe(port);
    expect([old.socketState(), successor.socketState(), await overSocket(socket)]).toEqual([
      'replaced',
      'owned',
      'new',
    ]);
    await old.close();
    expect([await overSocket(socket), await probe(port, '/healthz'), await probe(port, '/readyz')]).toEqual([
      'new',
      200,
      200,
    ]);
  });

  it('lets a request in flight finish when stopped', async () => {
    const socket = join(dir, 'agent.sock');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const agent = await serveAgent(
      {
        handler: (_req, res) => {
          started();
          void gate.then(() => res.end('finished'));
        },
      },
      { socketPath: socket, registry: new Registry(), log: silentLog },
      { unixSocket: (server, path) => listenUnixSocket(server, path, { owner: me }), tcp: listenTcp },
    );
    const answer = overSocket(socket);
    await running;
    const closed = agent.close();
    expect(await overSocket(socket)).toBe('ENOENT'); // the path went at once: new clients wait for the next agent
    release();
    expect(await answer).toBe('finished');
    await closed;
  });

  it('fails liveness and readiness once its socket path is removed', async () => {
    const socket = join(dir, 'agent.sock');
    const port = await freeLoopbackPort();
    await serve('only', socket, port);
    expect(await probe(port, '/healthz')).toBe(200);
    unlinkSync(socket);
    await eventually('/healthz to fail', async () => (await probe(port, '/healthz')) === 503, 5000);
    expect(await probe(port, '/readyz')).toBe(503);
  });
});
