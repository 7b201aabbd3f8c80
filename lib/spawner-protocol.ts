/**
 * The protocol between the agent and its plugin spawner (spawner/, a small static Go process the agent
 * keeps as its child so that plugins are forked by it, not by the agent's big Node.js process). This
 * file owns it; spawner/spawner.go mirrors the shapes and constants (a jest test compares them).
 *
 * Newline-delimited JSON over the spawner's stdin and stdout. The spawner speaks first, once:
 * `{"protocol":1,"pid":N}`. Then the agent sends requests and the spawner answers each run once:
 *
 *   agent → spawner  {"id":1,"op":"run","file":"/opt/cni/bin/bridge","args":[],"env":{...},"stdin":"..."}
 *                    {"id":1,"op":"kill"}          SIGKILL the run's process group (its timeout)
 *   spawner → agent  {"id":1,"code":0,"stdout":"...","stderr":"..."}
 *                    {"id":1,"code":null,"signal":"SIGKILL","stdout":"","stderr":""}
 *                    {"id":1,"code":null,"stdout":"","stderr":"","error":"cannot execute ...: ..."}
 *
 * Each run is its own process group; its output is cut at maxExecOutputBytes (lib/ports.ts) per stream. When the
 * spawner's stdin ends or its parent dies, it SIGKILLs every run still going and exits.
 */
import type { ExecRequest, ExecResult } from './ports.ts';

export const spawnerProtocolVersion = 1;

export type SpawnerRequest =
  | {
      readonly id: number;
      readonly op: 'run';
      readonly file: string;
      readonly args: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      readonly stdin: string;
    }
  | { readonly id: number; readonly op: 'kill' };

export interface SpawnerHello {
  readonly protocol: number;
  readonly pid: number;
}

export interface SpawnerReply {
  readonly id: number;
  /** Exit code; null when a signal ended the run (then `signal` names it) or it did not start. */
  readonly code: number | null;
  readonly signal?: string;
  readonly stdout: string;
  readonly stderr: string;
  /** Why the run could not start (the file is missing, not executable, ...). */
  readonly error?: string;
}

/** The request line that runs `request` as run `id`. */
export function runLine(id: number, request: ExecRequest): string {
  const line: SpawnerRequest = {
    id,
    op: 'run',
    file: request.file,
    args: request.args ?? [],
    env: request.env,
    stdin: request.stdin ?? '',
  };
  return `${JSON.stringify(line)}\n`;
}

/** The request line that kills run `id`'s process group. */
export function killLine(id: number): string {
  return `${JSON.stringify({ id, op: 'kill' } satisfies SpawnerRequest)}\n`;
}

/** The hello line, or an Error saying what is wrong with it (another protocol, not a hello). */
export function parseHello(line: string): SpawnerHello | Error {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return new Error(`the spawner's first line is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const hello = value as Partial<SpawnerHello>;
  if (typeof hello.pid !== 'number' || typeof hello.protocol !== 'number')
    return new Error(`the spawner's first line is not a hello: ${JSON.stringify(line.slice(0, 200))}`);
  if (hello.protocol !== spawnerProtocolVersion)
    return new Error(
      `the spawner speaks protocol ${hello.protocol}, this agent ${spawnerProtocolVersion}: install the spawner of this release`,
    );
  return { protocol: hello.protocol, pid: hello.pid };
}

/** A reply line, or an Error when it is not one. */
export function parseReply(line: string): SpawnerReply | Error {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return new Error(`the spawner sent a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const reply = value as Partial<SpawnerReply>;
  if (
    typeof reply.id !== 'number' ||
    (reply.code !== null && typeof reply.code !== 'number') ||
    typeof reply.stdout !== 'string' ||
    typeof reply.stderr !== 'string'
  )
    return new Error(`the spawner sent a line that is not a reply: ${JSON.stringify(line.slice(0, 200))}`);
  return reply as SpawnerReply;
}

/** The Exec port's result for a reply; `timedOut` when the agent killed the run for its timeout. */
export function execResult(reply: SpawnerReply, file: string, timedOut: boolean): ExecResult {
  if (reply.error !== undefined)
    // As Node's spawn reports a file it cannot execute (platform/nodejs/exec.ts).
    return { code: 127, stdout: '', stderr: reply.error || `cannot execute ${file}`, timedOut: false };
  return { code: reply.code, stdout: reply.stdout, stderr: reply.stderr, timedOut };
}
