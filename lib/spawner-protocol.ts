/**
 * The protocol between the agent and its plugin spawner (spawner/, a small static Go process the agent
 * keeps as its child so that plugins are forked by it, not by the agent's big Node.js process). This
 * file owns it; spawner/spawner.go mirrors the frames and constants (a jest test compares them).
 *
 * Frames over the spawner's stdin and stdout: a big-endian u32 length, then that many bytes of payload:
 * a kind byte and fields, each a u32 or a string (a u32 byte length and its bytes, UTF-8).
 *
 *   spawner → agent, once, first:  'h' protocol:u32 pid:u32
 *   agent → spawner:               'r' id:u32 file:str argc:u32 arg:str* envc:u32 env:str* stdin:str
 *                                        (env entries are NAME=value: exactly the run's environment)
 *                                  'k' id:u32   SIGKILL run id's process group (its timeout)
 *   spawner → agent, once a run:   'd' id:u32 code:i32 maxRssKiB:u32 signal:str error:str stdout:str stderr:str
 *                                        (code -1: a signal ended it, named by signal, or it could not
 *                                        start, error says why; maxRssKiB: the peak resident memory of
 *                                        the run and of what it waited for)
 *
 * Each run is its own process group; its output is cut at maxExecOutputBytes (lib/ports.ts) per stream,
 * and ends when everything holding its pipes has exited. When the spawner's stdin ends or its parent
 * dies, it SIGKILLs every run still going and exits. A frame it cannot read ends it.
 */
import type { ExecRequest, ExecResult } from './ports.ts';

export const spawnerProtocolVersion = 1;

/** The largest frame the spawner reads (a run's stdin is a plugin's config: KiB). */
export const maxSpawnerFrameBytes = 64 * 1024 * 1024;

const kind = { run: 0x72, kill: 0x6b, hello: 0x68, done: 0x64 } as const;

export interface SpawnerHello {
  readonly protocol: number;
  readonly pid: number;
}

export interface SpawnerReply {
  readonly id: number;
  /** Exit code; null when a signal ended the run (then `signal` names it) or it did not start. */
  readonly code: number | null;
  /** Peak resident memory of the run (and the processes it waited for), KiB. */
  readonly maxRssKiB: number;
  readonly signal: string;
  /** Why the run could not start (the file is missing, not executable, ...); '' when it ran. */
  readonly error: string;
  readonly stdout: string;
  readonly stderr: string;
}

function frame(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** The frame that runs `request` as run `id`. */
export function runFrame(id: number, request: ExecRequest): Buffer {
  const strings = [
    request.file,
    ...(request.args ?? []),
    ...Object.entries(request.env).map(([name, value]) => `${name}=${value}`),
    request.stdin ?? '',
  ].map((s) => Buffer.from(s, 'utf8'));
  const argc = request.args?.length ?? 0;
  const payload = Buffer.allocUnsafe(1 + 4 + 4 + 4 + strings.reduce((n, s) => n + 4 + s.length, 0));
  let at = payload.writeUInt8(kind.run, 0);
  at = payload.writeUInt32BE(id, at);
  strings.forEach((s, i) => {
    // argc before the first arg, envc before the first env entry
    if (i === 1) at = payload.writeUInt32BE(argc, at);
    if (i === 1 + argc) at = payload.writeUInt32BE(strings.length - 2 - argc, at);
    at = payload.writeUInt32BE(s.length, at);
    at += s.copy(payload, at);
  });
  return frame(payload.subarray(0, at));
}

/** The frame that kills run `id`'s process group. */
export function killFrame(id: number): Buffer {
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt8(kind.kill, 0);
  payload.writeUInt32BE(id, 1);
  return frame(payload);
}

/** Cuts the spawner's stdout into frame payloads, however the pipe splits it. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** The payloads completed by `chunk`. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const payloads: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + length) break;
      payloads.push(this.pending.subarray(4, 4 + length));
      this.pending = this.pending.subarray(4 + length);
    }
    return payloads;
  }
}

/** Reads a payload's fields; a field past its end throws. */
class Fields {
  private at = 1;
  private readonly payload: Buffer;
  constructor(payload: Buffer) {
    this.payload = payload;
  }
  u32(): number {
    const value = this.payload.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
  i32(): number {
    const value = this.payload.readInt32BE(this.at);
    this.at += 4;
    return value;
  }
  str(): string {
    const length = this.u32();
    if (this.at + length > this.payload.length) throw new RangeError('a string runs past the frame');
    const value = this.payload.toString('utf8', this.at, this.at + length);
    this.at += length;
    return value;
  }
  end(): void {
    if (this.at !== this.payload.length) throw new RangeError('bytes after the last field');
  }
}

function describe(payload: Buffer): string {
  return `${payload.length} bytes, kind ${JSON.stringify(String.fromCharCode(payload[0] ?? 0))}`;
}

/** The hello, or an Error saying what is wrong with it (another protocol, not a hello). */
export function parseHello(payload: Buffer): SpawnerHello | Error {
  if (payload.length !== 9 || payload[0] !== kind.hello)
    return new Error(`the spawner's first frame is not a hello (${describe(payload)})`);
  const fields = new Fields(payload);
  const hello = { protocol: fields.u32(), pid: fields.u32() };
  if (hello.protocol !== spawnerProtocolVersion)
    return new Error(
      `the spawner speaks protocol ${hello.protocol}, this agent ${spawnerProtocolVersion}: install the spawner of this release`,
    );
  return hello;
}

/** A reply, or an Error when the frame is not one. */
export function parseReply(payload: Buffer): SpawnerReply | Error {
  if (payload[0] !== kind.done)
    return new Error(`the spawner sent a frame that is not a reply (${describe(payload)})`);
  try {
    const fields = new Fields(payload);
    const id = fields.u32();
    const code = fields.i32();
    const reply = {
      id,
      code: code < 0 ? null : code,
      maxRssKiB: fields.u32(),
      signal: fields.str(),
      error: fields.str(),
      stdout: fields.str(),
      stderr: fields.str(),
    };
    fields.end();
    return reply;
  } catch (err) {
    return new Error(`the spawner sent a reply that cannot be read (${describe(payload)}): ${String(err)}`);
  }
}

/** The Exec port's result for a reply; `timedOut` when the agent killed the run for its timeout. */
export function execResult(reply: SpawnerReply, timedOut: boolean): ExecResult {
  if (reply.error)
    // As Node's spawn reports a file it cannot execute (platform/nodejs/exec.ts).
    return { code: 127, stdout: '', stderr: reply.error, timedOut: false };
  return {
    code: reply.code,
    stdout: reply.stdout,
    stderr: reply.stderr,
    timedOut,
    maxRssKiB: reply.maxRssKiB,
  };
}
