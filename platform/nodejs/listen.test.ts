/**
 * The agent's socket dir: created private, an existing one never chmodded, one that another user owns
 * or may write refused (that user could remove the socket and listen in its place).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, listenUnixSocket } from './listen.ts';

const me = process.getuid!();

describe('listenUnixSocket', () => {
  let dir: string;
  let server: Server;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-listen-'));
    server = createServer();
  });
  afterEach(async () => {
    if (server.listening) await closeServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a missing dir 0700 and the socket 0600', async () => {
    const socket = join(dir, 'run', 'multinet', 'agent.sock');
    await listenUnixSocket(server, socket, { owner: me });
    expect(statSync(join(dir, 'run', 'multinet')).mode & 0o7777).toBe(0o700);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });

  it('leaves the mode of a dir that exists alone', async () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o755);
    await listenUnixSocket(server, join(shared, 'agent.sock'), { owner: me });
    expect(statSync(shared).mode & 0o7777).toBe(0o755);
  });

  it('accepts a sticky dir that others may write, like /tmp, without changing it', async () => {
    const sticky = join(dir, 'tmp');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    await listenUnixSocket(server, join(sticky, 'agent.sock'), { owner: me });
    expect(statSync(sticky).mode & 0o7777).toBe(0o1777);
  });

  it('refuses a dir that others may write', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(listenUnixSocket(server, join(open, 'agent.sock'), { owner: me })).rejects.toThrow(
      `the socket dir ${open}: ${open} can be written by others (mode 777)`,
    );
    expect(server.listening).toBe(false);
  });

  it('refuses a dir that another user owns, and one below it', async () => {
    const theirs = join(dir, 'theirs');
    mkdirSync(join(theirs, 'below'), { recursive: true, mode: 0o700 });
    // As root: a dir of nobody's. Otherwise the dir is this user's, and root is asked to own it.
    const owner = me === 0 ? 0 : me + 1;
    if (me === 0) chownSync(theirs, 65534, 65534);
    const belongs = me === 0 ? 'uid 65534' : `uid ${me}`;
    for (const socket of [join(theirs, 'agent.sock'), join(theirs, 'below', 'agent.sock')]) {
      await expect(listenUnixSocket(server, socket, { owner })).rejects.toThrow(
        `${theirs} belongs to ${belongs}, not ${owner === 0 ? 'root' : `uid ${owner}`}`,
      );
    }
  });
});
