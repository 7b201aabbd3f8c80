/**
 * A CNI handler served on a unix socket in a temp dir, and the client side the shim speaks (one POST
 * /cni per request), for tests that go through the agent's real HTTP endpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Answer {
  readonly status: number;
  readonly text: string;
  /** The body parsed, or undefined when it is not JSON. */
  readonly json: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** One POST over the socket; rejects only when the connection fails (a reset, a refused connect). */
export function postCni(
  socket: string,
  body: string | Buffer,
  path = '/cni',
  method = 'POST',
  headers: Readonly<Record<string, string>> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path,
        method,
        headers: { ...headers, 'content-length': Buffer.byteLength(body), connection: 'close' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface ServedHandler {
  readonly socket: string;
  readonly server: Server;
  post(body: string | Buffer): Promise<Answer>;
  close(): Promise<void>;
}

/** Serves handler on a fresh unix socket (removed with its dir on close). */
export async function serveOnSocket(handler: RequestListener): Promise<ServedHandler> {
  const dir = mkdtempSync(join(tmpdir(), 'multinet-cni-socket-'));
  const socket = join(dir, 'agent.sock');
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    server,
    post: (body) => postCni(socket, body),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The wire form of a CNI request (what the shim sends). */
export function wireRequest(fields: {
  command: string;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  path?: string;
  config?: object;
}): string {
  return JSON.stringify({
    command: fields.command,
    containerId: fields.containerId ?? '',
    netns: fields.netns ?? '',
    ifName: fields.ifName ?? '',
    args: fields.args ?? '',
    path: fields.path ?? '/opt/cni/bin',
    config: fields.config ?? { cniVersion: '1.0.0', name: 'multinet-cni-network', type: 'multinet-cni' },
  });
}
