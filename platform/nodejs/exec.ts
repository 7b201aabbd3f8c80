/** The real Exec port: spawn with a timeout that kills the whole process group, and bounded output. */
import { spawn } from 'node:child_process';
import { maxExecOutputBytes, type Exec, type ExecRequest, type ExecResult } from '../../lib/ports.ts';

function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size >= maxExecOutputBytes) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

export interface NodeExecOptions {
  /**
   * Kills a process group (through the entry point's ProcessPort: kill(-pid, signal)); without it a
   * timeout kills only the plugin's own process.
   */
  readonly killGroup?: (pid: number, signal: NodeJS.Signals) => void;
}

export function nodeExec(options: NodeExecOptions = {}): Exec {
  return { run: (request) => run(request, options) };
}

function run(request: ExecRequest, options: NodeExecOptions): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(request.file, [...(request.args ?? [])], {
      env: { ...request.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout kills grandchildren too
    });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid && options.killGroup) options.killGroup(child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, request.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({
        code: 127,
        stdout: '',
        stderr: `cannot execute ${request.file}: ${err.message}`,
        timedOut: false,
      });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout(), stderr: stderr(), timedOut });
    });
    child.stdin.on('error', () => undefined); // the child may exit without reading stdin
    child.stdin.end(request.stdin ?? '');
  });
}
