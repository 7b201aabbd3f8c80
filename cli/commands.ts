/** The multinet command table: each command parses its own arguments and returns an exit code. */
import { ExitCode, UsageError, type CommandContext } from './io.ts';

export type { CommandContext } from './io.ts';

/** A command's code, loaded only when that command runs: `lint` must not pay for the Kubernetes client. */
export interface CommandModule {
  readonly usage: string;
  readonly run: (args: readonly string[], context: CommandContext) => Promise<number>;
}

export interface Command {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const commands: Readonly<Record<string, Command>> = {
  lint: {
    summary: 'check NADs, CNI configs and network annotations',
    load: async () => {
      const m = await import('./lint.ts');
      return { usage: m.lintUsage, run: (args, { io }) => m.runLint(args, io) };
    },
  },
  doctor: {
    summary: 'check a cluster: the install, every node, every NAD, or one pod (`doctor pod NS/NAME`)',
    load: async () => {
      const m = await import('./doctor.ts');
      return { usage: m.doctorUsage, run: m.runDoctor };
    },
  },
  agent: {
    summary: 'run the node agent (writes the CNI config, serves the CNI shim, runs delegates)',
    load: async () => {
      const m = await import('./agent.ts');
      return { usage: m.agentUsage, run: m.runAgent };
    },
  },
  controller: {
    summary: 'run the NAD status controller (conditions, node counts, Events; leader-elected)',
    load: async () => {
      const m = await import('./controller.ts');
      return { usage: m.controllerUsage, run: m.runController };
    },
  },
  webhook: {
    summary: 'run the validating admission webhook (NADs and pod network annotations)',
    load: async () => {
      const m = await import('./webhook.ts');
      return { usage: m.webhookUsage, run: m.runWebhook };
    },
  },
};

function mainUsage(table: Readonly<Record<string, Command>>): string {
  const width = Math.max(...Object.keys(table).map((n) => n.length));
  const lines = Object.entries(table).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `multinet: multiple network interfaces for Kubernetes pods\n\nUsage: multinet COMMAND [ARGS]\n\nCommands:\n${lines.join('\n')}\n\nRun "multinet COMMAND --help" for a command's options.`;
}

/**
 * Runs argv (without node and script); usage errors print the command's usage and give exit 2. `more`
 * are the harness's commands (playground/commands.ts: up, dev), where the entry point found them: a
 * checkout has them, the image does not.
 */
export async function runCli(
  argv: readonly string[],
  context: CommandContext,
  more: Readonly<Record<string, Command>> = {},
): Promise<number> {
  const table = { ...commands, ...more };
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    context.io.stdout(`${mainUsage(table)}\n`);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = table[name];
  if (!command) {
    context.io.stderr(`multinet: unknown command ${JSON.stringify(name)}\n\n${mainUsage(table)}\n`);
    return ExitCode.usage;
  }
  const { usage, run } = await command.load();
  if (args.includes('--help') || args.includes('-h')) {
    context.io.stdout(`${usage}\n`);
    return ExitCode.ok;
  }
  try {
    return await run(args, context);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    context.io.stderr(`multinet ${name}: ${err.message}\n\n${usage}\n`);
    return ExitCode.usage;
  }
}
