/** Listening helpers for entry points: a private unix socket, or a TCP port on loopback/given host. */
import { chmod, lstat, mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname } from 'node:path';

export interface UnixSocketOptions {
  /** The user who must own the socket's dir and every dir above it (default 0: root). */
  readonly owner?: number;
}

/**
 * Refuses a socket dir that someone else could change: the dir and every dir above it must belong to
 * the owner and be writable by nobody else, unless sticky (in /tmp others cannot remove what is not
 * theirs). Otherwise another user could remove the socket and listen in its place.
 */
async function checkSocketDir(dir: string, owner: number): Promise<void> {
  for (let current = await realpath(dir); ; current = dirname(current)) {
    const info = await stat(current);
    if (info.uid !== owner) {
      throw new Error(
        `the socket dir ${dir}: ${current} belongs to uid ${info.uid}, not ${owner === 0 ? 'root' : `uid ${owner}`}; another user could replace the socket (choose a --socket in a dir root owns)`,
      );
    }
    const sticky = (info.mode & 0o1000) !== 0;
    if ((info.mode & 0o022) !== 0 && !sticky) {
      throw new Error(
        `the socket dir ${dir}: ${current} can be written by others (mode ${(info.mode & 0o7777).toString(8)}); another user could replace the socket (choose a --socket in a dir only root can write)`,
      );
    }
    if (current === dirname(current)) return;
  }
}

/**
 * Listens on a unix socket at path: its dir is created (0700) when missing and checked when it exists
 * (checkSocketDir), never chmodded (`--socket /tmp/x.sock` must not change /tmp); the socket 0600, a
 * stale socket replaced.
 */
export async function listenUnixSocket(
  server: Server,
  path: string,
  options: UnixSocketOptions = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await checkSocketDir(dirname(path), options.owner ?? 0);
  const existing = await lstat(path).catch(() => undefined);
  if (existing) {
    if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    await unlink(path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
}

/** Listens on host:port (port 0 picks a free one) and returns the port. */
export async function listenTcp(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}
