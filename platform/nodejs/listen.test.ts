/**
 * The agent's socket dir: created private, an existing one never chmodded, one that another user owns
 * or may write refused (that user could remove the socket and listen in its place). The socket path
 * handed from one listener to the next without a gap, and removed only by the one that owns it.
 */
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
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

/** Whether a connection to the unix socket at path reaches a server that answers with `name`. */
function reaches(path: string): Promise<string> {
  return new Promise((resolve) => {
    const client = connect(path);
    let text = '';
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    client.on('end', () => resolve(text));
    client.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

function named(name: string): Server {
  return createServer((conn) => conn.end(name));
}

describe('listenUnixSocket with a successor on the same path (a restart, a rolling update with a surge)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'multinet-listen-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("hands the path over without a gap, and the first one's close leaves the successor's socket in place", async () => {
    const socket = join(dir, 'agent.sock');
    const first = await listenUnixSocket(named('first'), socket, { owner: me });
    expect([first.state(), await reaches(socket)]).toEqual(['owned', 'first']);
    const second = await listenUnixSocket(named('second'), socket, { owner: me });
    expect([first.state(), second.state(), await reaches(socket)]).toEqual(['replaced', 'owned', 'second']);
    await first.close();
    expect([second.state(), await reaches(socket)]).toEqual(['owned', 'second']);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    // Nothing but the socket is left in the dir: the temp name it was bound under went with the rename.
    expect(readdirSync(dir)).toEqual(['agent.sock']);
    await second.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports a socket that someone removed as gone, and then removes nothing on close', async () => {
    const socket = join(dir, 'agent.sock');
    const listener = await listenUnixSocket(named('one'), socket, { owner: me });
    unlinkSync(socket);
    expect(listener.state()).toBe('gone');
    writeFileSync(socket, 'not a socket');
    expect(listener.state()).toBe('gone');
    await listener.close();
    expect(readdirSync(dir)).toEqual(['agent.sock']);
  });

  it('refuses to replace a path that is not a socket', async () => {
    const socket = join(dir, 'agent.sock');
    writeFileSync(socket, 'data');
    await expect(listenUnixSocket(named('x'), socket, { owner: me })).rejects.toThrow(
      `${socket} exists and is not a socket; refusing to replace it`,
    );
    expect(readdirSync(dir)).toEqual(['agent.sock']);
  });
});
