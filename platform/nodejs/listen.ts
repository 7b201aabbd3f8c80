/** Listening helpers for entry points: a private unix socket, or a TCP port on loopback/given host. */
import { randomBytes } from 'node:crypto';
import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
 * Whose socket is at the path: this server's ('owned'), another listener's that took the path over
 * ('replaced': a successor renamed its socket into place), or none ('gone': removed, or not a socket).
 */
export type SocketState = 'owned' | 'replaced' | 'gone';

/** A server listening on a unix socket path that it may lose to a successor. */
export interface UnixSocketListener {
  readonly path: string;
  /** Checks the path now (one lstat). */
  state(): SocketState;
  /** Closes the server; removes the path only while it is still this server's socket. */
  close(): Promise<void>;
}

/** Temp sockets of a listener killed between bind and rename are removed by the next one after this long. */
const staleTempSocketMs = 60_000;

/** A short name (a unix socket path has at most 107 bytes) beside the socket, for binding. */
function tempSocketPath(path: string): string {
  return join(dirname(path), `.${randomBytes(4).toString('hex')}.tmp`);
}

const tempSocketName = /^\.[0-9a-f]{8}\.tmp$/;

/** Removes the temp sockets (tempSocketPath) beside path that are older than staleTempSocketMs. */
async function removeStaleTempSockets(path: string): Promise<void> {
  const names = await readdir(dirname(path)).catch(() => []);
  for (const name of names) {
    if (!tempSocketName.test(name)) continue;
    const info = await lstat(join(dirname(path), name)).catch(() => undefined);
    if (info?.isSocket() && Date.now() - info.ctimeMs > staleTempSocketMs)
      await unlink(join(dirname(path), name)).catch(() => undefined);
  }
}

/**
 * Listens on a unix socket at path: its dir is created (0700) when missing and checked when it exists
 * (checkSocketDir), never chmodded (`--socket /tmp/x.sock` must not change /tmp); the socket 0600.
 *
 * The socket is bound under a temp name and renamed onto path, so the path is never missing while it
 * changes hands (a restart, or a rolling update where the new agent starts before the old one stops),
 * and the server's close unlinks only the temp name (Node unlinks the path it bound). The path itself
 * is removed on close only while it is still this server's socket (same device and inode): a stopping
 * agent never removes its successor's socket.
 */
export async function listenUnixSocket(
  server: Server,
  path: string,
  options: UnixSocketOptions = {},
): Promise<UnixSocketListener> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await checkSocketDir(dirname(path), options.owner ?? 0);
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !existing.isSocket())
    throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  await removeStaleTempSockets(path);
  const temp = tempSocketPath(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(temp, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let identity: { dev: number; ino: number };
  try {
    await chmod(temp, 0o600);
    identity = await lstat(temp);
    await rename(temp, path);
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  const state = (): SocketState => {
    let info;
    try {
      info = lstatSync(path);
    } catch {
      return 'gone';
    }
    if (info.dev === identity.dev && info.ino === identity.ino) return 'owned';
    return info.isSocket() ? 'replaced' : 'gone';
  };
  return {
    path,
    state,
    close: async () => {
      // First the path (if still this server's), so new clients find nobody rather than a closing server.
      if (state() === 'owned') {
        try {
          unlinkSync(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      if (server.listening) await closeServer(server);
    },
  };
}

export interface TcpOptions {
  /**
   * How long to wait for a port in use to become free (0: fail at once). An agent that takes over the
   * node's socket from a running one waits for it to let go of the probe port.
   */
  readonly waitMs?: number;
  /** Called once when the port is in use and listenTcp starts waiting for it. */
  readonly onWait?: () => void;
}

/** Listens on host:port (port 0 picks a free one) and returns the port. */
export async function listenTcp(
  server: Server,
  host: string,
  port: number,
  options: TcpOptions = {},
): Promise<number> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() >= deadline) {
        if (attempt > 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new Error(
            `${host}:${port} is still in use after ${Math.round((options.waitMs ?? 0) / 1000)} s: another program listens there`,
            { cause: err },
          );
        }
        throw err;
      }
      if (attempt === 0) options.onWait?.();
      await sleep(250);
    }
  }
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
