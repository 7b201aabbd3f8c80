/** The multinet command table: each command parses its own arguments and returns an exit code. */
import { ExitCode, UsageError, type CliIo } from './io.ts';
import { agentUsage, runAgent } from './agent.ts';
import { devUsage, runDev } from './dev-cluster.ts';
import { lintUsage, runLint } from './lint.ts';

/** What the entry point hands to a command: I/O, the environment, and a signal for SIGINT/SIGTERM. */
export interface CommandContext {
  readonly io: CliIo;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  /** Where long-running commands send their log lines (the entry passes process.stderr). */
  readonly logStream?: NodeJS.WritableStream;
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly run: (args: readonly string[], context: CommandContext) => Promise<number>;
}

export const commands: Readonly<Record<string, Command>> = {
  lint: {
    summary: 'check NADs, CNI configs and network annotations',
    usage: lintUsage,
    run: (args, { io }) => runLint(args, io),
  },
  agent: {
    summary: 'run the node agent (writes the CNI config, serves the CNI shim, runs delegates)',
    usage: agentUsage,
    run: runAgent,
  },
  dev: {
    summary: 'local playground: `dev cluster` runs a real kube-apiserver + etcd on 127.0.0.1',
    usage: devUsage,
    run: runDev,
  },
};

export function mainUsage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `multinet: multiple network interfaces for Kubernetes pods\n\nUsage: multinet COMMAND [ARGS]\n\nCommands:\n${lines.join('\n')}\n\nRun "multinet COMMAND --help" for a command's options.`;
}

/** Runs argv (without node and script); usage errors print the command's usage and give exit 2. */
export async function runCli(argv: readonly string[], context: CommandContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    context.io.stdout(`${mainUsage()}\n`);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = commands[name];
  if (!command) {
    context.io.stderr(`multinet: unknown command ${JSON.stringify(name)}\n\n${mainUsage()}\n`);
    return ExitCode.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    context.io.stdout(`${command.usage}\n`);
    return ExitCode.ok;
  }
  try {
    return await command.run(args, context);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    context.io.stderr(`multinet ${name}: ${err.message}\n\n${command.usage}\n`);
    return ExitCode.usage;
  }
}
