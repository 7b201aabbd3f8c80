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
  up: {
    summary: 'the local playground: the whole system on this machine, and the seed walkthrough',
    load: async () => {
      const m = await import('./up.ts');
      return { usage: m.upUsage, run: m.runUp };
    },
  },
  dev: {
    summary:
      'local clusters: `dev cluster` (kube-apiserver + etcd), `dev node` (a real kubelet node with multinet)',
    load: async () => {
      const m = await import('./dev-cluster.ts');
      return { usage: m.devUsage, run: m.runDev };
    },
  },
};

function mainUsage(): string {
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
