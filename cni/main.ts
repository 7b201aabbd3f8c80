#!/usr/bin/env node
/** Entry point of the CNI shim (what the runtime executes): reads env and stdin, exits with the shim's code. */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runShim } from './shim.ts';
import { unixSocketTransport } from './transport.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  const stdin = process.env.CNI_COMMAND === 'VERSION' && process.stdin.isTTY ? '' : await readStdin();
  return runShim(
    {
      env: process.env,
      stdin,
      stdout: (text) => void process.stdout.write(text),
      stderr: (text) => void process.stderr.write(text),
      exists: existsSync,
      sleep: (ms) => sleep(ms),
      now: () => Date.now(),
    },
    unixSocketTransport,
  );
}

// No top-level await: this file is also bundled to CommonJS for the self-contained shim.
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stdout.write(
      `${JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: `multinet shim: ${err instanceof Error ? err.message : String(err)}` })}\n`,
    );
    process.exitCode = 1;
  },
);
