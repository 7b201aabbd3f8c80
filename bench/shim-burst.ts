/**
 * Many CNI calls at once, each through a meta-plugin's shim, as a runtime starting many pods at once
 * makes them: one bash starts them all in the background and waits (a small process that forks cheaply,
 * as a runtime in Go does; forking the benchmark's big Node process would add its own cost), timing from
 * the first start to the last exit with $EPOCHREALTIME. Every call must succeed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ShimCall {
  /** The whole environment of the shim (CNI_* and PATH). */
  readonly env: Readonly<Record<string, string>>;
  /** Its stdin: the network configuration the runtime passes. */
  readonly stdin: string;
}

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Runs every call through `shim` at once in `dir` (scratch files); resolves with the seconds it took. */
export async function shimBurst(shim: string, calls: readonly ShimCall[], dir: string): Promise<number> {
  const lines = calls.map((call, i) => {
    const stdin = join(dir, `burst-${i}.in`);
    writeFileSync(stdin, call.stdin);
    const env = Object.entries(call.env).map(([k, v]) => `${k}=${quote(v)}`);
    const out = join(dir, `burst-${i}.out`);
    return `( env -i ${env.join(' ')} ${quote(shim)} <${quote(stdin)} >${quote(out)} 2>&1; echo $? >${quote(`${out}.rc`)} ) &`;
  });
  const script = ['s=$EPOCHREALTIME', ...lines, 'wait', 'e=$EPOCHREALTIME', 'echo "$s $e"'].join('\n');
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`the burst's bash exited ${code}`)),
    );
  });
  const failed = calls
    .map((_, i) => join(dir, `burst-${i}.out`))
    .filter((out) => readFileSync(`${out}.rc`, 'utf8').trim() !== '0')
    .map((out) => readFileSync(out, 'utf8').slice(0, 500));
  if (failed.length > 0)
    throw new Error(
      `${failed.length} of ${calls.length} calls through ${shim} failed; the first: ${failed[0]}`,
    );
  const [start, end] = stdout.trim().split(' ').map(Number);
  return end! - start!;
}
