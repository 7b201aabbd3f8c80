#!/usr/bin/env node
/**
 * The multinet entry point: the only place that reads process.env and argv, installs signal handlers
 * and exits. Everything else receives what it needs from here.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runCli, type Command } from '../cli/commands.ts';
import type { CliIo } from '../cli/io.ts';
import { errorMessage } from '../lib/errors.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const io: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  readInput: (path) => (path === '-' ? readStdin() : readFile(path, 'utf8')),
  isTerminal: process.stdout.isTTY === true,
};

const controller = new AbortController();
let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    signals += 1;
    if (signals > 1) {
      io.stderr(`multinet: second ${signal}, exiting now\n`);
      process.exit(130);
    }
    controller.abort(new Error(`received ${signal}`));
  });
}

/**
 * The harness's commands (up, dev) where this is a checkout: imported by a computed path, so the
 * production build (which compiles what the entry points import) leaves dev/ and playground/ out.
 */
async function harnessCommands(): Promise<Readonly<Record<string, Command>>> {
  const url = new URL(['..', 'playground', 'commands.ts'].join('/'), import.meta.url);
  if (!existsSync(fileURLToPath(url))) return {};
  return ((await import(url.href)) as { harnessCommands: Record<string, Command> }).harnessCommands;
}

try {
  process.exitCode = await runCli(
    process.argv.slice(2),
    {
      io,
      env: process.env,
      signal: controller.signal,
      logStream: process.stderr,
      process: {
        uid: process.getuid?.(),
        pid: process.pid,
        kill: (pid, signal) => void process.kill(pid, signal),
      },
    },
    await harnessCommands(),
  );
} catch (err) {
  io.stderr(`multinet: ${errorMessage(err)}\n`);
  if (process.env.MULTINET_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
  process.exitCode = 70;
}
