/**
 * `multinet agent`: the node agent's entry. Parses flags, builds the agent from real ports, installs
 * the shim, listens on the CNI socket, and runs until SIGINT/SIGTERM.
 */
import { createServer } from 'node:http';
import { agentFlagDefaults, agentUsage, parseAgentFlags } from './agent-flags.ts';
import type { CommandContext } from './commands.ts';
import { ExitCode } from './io.ts';
import { createAgent } from '../agent/agent.ts';
import { installShim } from '../agent/shim-installer.ts';
import { StandaloneSource } from '../agent/standalone-source.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { systemClock } from '../lib/node/clock.ts';
import { nodeExec } from '../lib/node/exec.ts';
import { nodeFileSystem } from '../lib/node/fs.ts';
import { closeServer, listenUnixSocket } from '../lib/node/listen.ts';
import { watchDirectory } from '../lib/node/watch.ts';
import { findExecutable } from '../lib/node/which.ts';

export { agentUsage };

export async function runAgent(args: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseAgentFlags(args, context.env);
  const log = createLogger({
    level: flags.logLevel,
    format: flags.logFormat,
    file: flags.logFile,
    stream: context.logStream,
  });
  const ip = findExecutable('ip', context.env.PATH);
  const nsenter = findExecutable('nsenter', context.env.PATH);
  if (!ip || !nsenter) {
    context.io.stderr(
      `multinet agent: ${!ip ? '"ip" (iproute2)' : '"nsenter" (util-linux)'} is not installed; the agent needs it for default-route handling\n`,
    );
    return ExitCode.failed;
  }
  const source = new StandaloneSource(
    nodeFileSystem,
    { nadDir: flags.nadDir!, podDir: flags.podDir, stateDir: flags.stateDir },
    log.child({ component: 'source' }),
  );
  const agent = createAgent(
    {
      confDir: flags.cniConfDir,
      binDirs: flags.cniBinDirs,
      stateDir: flags.stateDir,
      socketPath: flags.socket,
      confFileName: flags.confFileName,
      shimName: flags.shimName,
      cniVersion: flags.cniVersion,
      network: flags.network,
      delegateTimeoutMs: flags.delegateTimeoutSeconds * 1000,
      agentWaitSeconds: flags.agentWaitSeconds,
      readinessIndicatorFile: flags.readinessIndicatorFile,
      readinessTimeoutMs: flags.readinessTimeoutSeconds * 1000,
      concurrency: flags.maxParallel,
      maxQueued: flags.maxQueued,
      ipPath: ip,
      nsenterPath: nsenter,
      pluginEnv: { PATH: context.env.PATH ?? agentFlagDefaults.path },
      resyncMs: 30_000,
    },
    { fs: nodeFileSystem, exec: nodeExec, clock: systemClock, log, source, watchDir: watchDirectory },
  );
  try {
    if (flags.shimSource)
      await installShim(
        nodeFileSystem,
        flags.shimSource,
        flags.shimDir ?? flags.cniBinDirs[0]!,
        flags.shimName,
        log,
      );
    else
      log.warn(
        'no --shim-source given: the CNI shim is not installed (the runtime must find multinet-cni itself)',
      );
    await agent.start();
  } catch (err) {
    log.error('agent failed to start', { error: errorMessage(err) });
    agent.stop();
    return ExitCode.failed;
  }
  const server = createServer(agent.handler);
  server.keepAliveTimeout = 1000;
  await listenUnixSocket(server, flags.socket);
  log.info('multinet agent ready', { socket: flags.socket, confDir: flags.cniConfDir, mode: 'standalone' });
  await new Promise<void>((resolve) => {
    if (context.signal.aborted) resolve();
    context.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log.info('stopping; the generated CNI config stays in place so new pods wait for the agent');
  agent.stop();
  server.closeAllConnections();
  await closeServer(server);
  return ExitCode.ok;
}
