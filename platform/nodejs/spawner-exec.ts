/**
 * The Exec port through the plugin spawner (spawner/, a small static Go process; the protocol is
 * lib/spawner-protocol.ts): the agent starts it once and keeps it as its child, and every run is forked
 * by it instead of by the agent. A fork from Node copies the agent's page tables, so each run costs more
 * the more memory the agent holds (`npm run bench:spawn`); the spawner's fork does not.
 *
 * Runs keep the Exec port's contract: a timeout SIGKILLs the run's process group, output is bounded,
 * a file that cannot be executed gives code 127. What the spawner starts dies with the agent (see
 * spawner/main.go). When the spawner cannot be started or dies, the runs go to `fallback` (Node's spawn),
 * loudly: an error is logged each time, with why; runs it had in flight fail (their plugins were
 * killed with it), and it is restarted after a delay that grows while it keeps dying.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from 'winston';
import type { Exec, ExecRequest, ExecResult } from '../../lib/ports.ts';
import {
  FrameReader,
  execResult,
  killFrame,
  parseHello,
  parseReply,
  runFrame,
} from '../../lib/spawner-protocol.ts';

export interface SpawnerExecOptions {
  /** The spawner executable (the image's /usr/local/lib/multinet/multinet-spawner). */
  readonly file: string;
  /** Where runs go while the spawner is not there. */
  readonly fallback: Exec;
  readonly log: Logger;
  /** Delays before the 1st, 2nd, ... restart in a row (the last repeats). Default 1, 5, 30 s. */
  readonly restartDelaysMs?: readonly number[];
  /** A spawner that ran this long before dying restarts after the first delay again. Default 60 s. */
  readonly stableAfterMs?: number;
  /** How long a start waits for the spawner's hello. Default 10 s. */
  readonly helloTimeoutMs?: number;
}

interface Pending {
  readonly resolve: (result: ExecResult) => void;
  readonly timer: NodeJS.Timeout;
  timedOut: boolean;
}

/** What is kept of the spawner's stderr for the log line that says why it failed. */
const stderrTail = 2000;

export class SpawnerExec implements Exec {
  private readonly options: SpawnerExecOptions;
  private child: ChildProcessWithoutNullStreams | undefined;
  /** Set once its hello arrived: runs go to it. */
  private up = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(options: SpawnerExecOptions) {
    this.options = options;
  }

  /** The spawner's process id while it serves runs. */
  get pid(): number | undefined {
    return this.up ? this.child?.pid : undefined;
  }

  /** Starts the spawner; resolves once it serves runs (true) or runs fall back to Node's spawn (false). */
  start(): Promise<boolean> {
    return new Promise((resolve) => this.launch(resolve));
  }

  run(request: ExecRequest): Promise<ExecResult> {
    const child = this.child;
    if (!this.up || !child) return this.options.fallback.run(request);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const run = this.pending.get(id);
        if (!run) return;
        run.timedOut = true;
        child.stdin.write(killFrame(id));
      }, request.timeoutMs);
      this.pending.set(id, { resolve, timer, timedOut: false });
      if (this.pending.size === 1) this.hold(child, true);
      child.stdin.write(runFrame(id, request));
    });
  }

  /** Ends the spawner (its stdin ends: it kills the runs still going) and waits for it to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.stdin.end();
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }

  /** Keeps the agent's event loop alive while runs are in flight, not while the spawner idles. */
  private hold(child: ChildProcessWithoutNullStreams, busy: boolean): void {
    const stdout = pipe(child.stdout);
    if (busy) {
      child.ref();
      stdout.ref();
    } else {
      child.unref();
      stdout.unref();
    }
  }

  private launch(started?: (up: boolean) => void): void {
    const { file, log } = this.options;
    const launchedAt = Date.now();
    let stderr = '';
    const frames = new FrameReader();
    let hello = false;
    let settled = false;
    const settle = (up: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(helloTimer);
      started?.(up);
    };
    // Its own session: a ^C at the agent's terminal is the agent's to handle, not the spawner's.
    const child = spawn(file, [], { env: {}, stdio: 'pipe', detached: true });
    this.child = child;
    this.hold(child, true); // until its hello
    pipe(child.stderr).unref();
    const helloTimer = setTimeout(() => {
      log.error(fallbackMessage, {
        spawner: file,
        reason: `no hello within ${this.options.helloTimeoutMs ?? 10_000} ms`,
      });
      child.kill('SIGKILL');
    }, this.options.helloTimeoutMs ?? 10_000);
    helloTimer.unref();
    child.stdin.on('error', () => undefined); // it died: 'exit' says so
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-stderrTail);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      for (const payload of frames.push(chunk)) {
        if (!hello) {
          hello = true;
          const parsed = parseHello(payload);
          if (parsed instanceof Error) {
            log.error(fallbackMessage, { spawner: file, reason: parsed.message });
            this.stopping = true; // another release's spawner: restarting it would not help
            child.kill('SIGKILL');
            return;
          }
          this.up = true;
          this.hold(child, false);
          log.info('plugins are started by the spawner', { spawner: file, pid: parsed.pid });
          settle(true);
          continue;
        }
        this.answer(payload);
      }
    });
    let notStarted = false;
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Not started at all (missing, not executable); 'close' may or may not follow.
      notStarted = true;
      if (this.child === child) this.child = undefined;
      log.error(fallbackMessage, { spawner: file, reason: err.message });
      if (err.code !== 'ENOENT' && err.code !== 'EACCES') this.scheduleRestart(launchedAt);
      settle(false);
    });
    // 'close', not 'exit': the replies of runs that ended before it are read first.
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const wasUp = this.up;
      this.up = false;
      const failed = this.failPending(
        `the plugin spawner (pid ${child.pid}) exited (${signal ?? `code ${code}`}) while this ran; it was killed with it`,
      );
      if (this.stopping || notStarted) {
        settle(false);
        return;
      }
      log.error(wasUp ? diedMessage : fallbackMessage, {
        spawner: file,
        pid: child.pid,
        ...(signal ? { signal } : { code }),
        ...(failed > 0 ? { failedRuns: failed } : {}),
        ...(stderr.trim() ? { stderr: stderr.trim() } : {}),
      });
      this.scheduleRestart(launchedAt);
      settle(false);
    });
  }

  private answer(payload: Buffer): void {
    const reply = parseReply(payload);
    if (reply instanceof Error) {
      this.options.log.error('the plugin spawner broke its protocol; restarting it', {
        error: reply.message,
      });
      this.child?.kill('SIGKILL');
      return;
    }
    const run = this.pending.get(reply.id);
    if (!run) return;
    this.pending.delete(reply.id);
    clearTimeout(run.timer);
    if (this.pending.size === 0 && this.child) this.hold(this.child, false);
    run.resolve(execResult(reply, run.timedOut));
  }

  /** Ends every run in flight with an error result; returns how many there were. */
  private failPending(why: string): number {
    const runs = [...this.pending.values()];
    this.pending.clear();
    for (const run of runs) {
      clearTimeout(run.timer);
      run.resolve({ code: null, stdout: '', stderr: why, timedOut: run.timedOut });
    }
    return runs.length;
  }

  private scheduleRestart(launchedAt: number): void {
    if (this.stopping) return;
    if (Date.now() - launchedAt >= (this.options.stableAfterMs ?? 60_000)) this.restarts = 0;
    const delays = this.options.restartDelaysMs ?? [1000, 5000, 30_000];
    const delay = delays[Math.min(this.restarts, delays.length - 1)]!;
    this.restarts += 1;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (!this.stopping) this.launch();
    }, delay);
    this.restartTimer.unref();
  }
}

/** A child's stdio stream is a net.Socket over a pipe (its type says only Readable). */
function pipe(stream: NodeJS.ReadableStream): Socket {
  return stream as unknown as Socket;
}

const fallbackMessage =
  "the plugin spawner cannot be used; plugins are started by the agent's own Node.js spawn instead, which forks the whole agent: slower per plugin";
const diedMessage =
  "the plugin spawner died; runs in flight failed, and plugins are started by the agent's own Node.js spawn until it is restarted";
