import type { ProcessPort } from '../lib/ports.ts';

/** What a CLI command may touch: its output streams and its inputs. The entry point supplies them. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads a file, or standard input for "-". */
  readonly readInput: (path: string) => Promise<string>;
  /** Standard output is a terminal (colours, when the user wants them). */
  readonly isTerminal?: boolean;
}

/** What the entry point hands to a command: I/O, the environment, and a signal for SIGINT/SIGTERM. */
export interface CommandContext {
  readonly io: CliIo;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  /** Where long-running commands send their log lines (the entry passes process.stderr). */
  readonly logStream?: NodeJS.WritableStream;
  /** The process itself (uid, pid, kill), for commands that run and stop other processes. */
  readonly process?: ProcessPort;
}

/** Exit codes shared by every command. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** A wrong invocation: the entry prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
