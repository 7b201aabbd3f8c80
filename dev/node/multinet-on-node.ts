/**
 * multinet running on the local Kubernetes node as host processes: its CRDs, the controller, the
 * admission webhook (registered with the API server by URL) and the node agent for `localhost`, which
 * installs the CNI shim into the node's CNI bin dir and writes 00-multinet.conflist into the conf dir
 * containerd reads. Resolves once a probe pod created through the API got its network from multinet
 * (network-status written by the agent) and was deleted again (its DEL ran).
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually, httpOk } from '../eventually.ts';
import { installCrds } from '../controlplane/crds.ts';
import { freeLoopbackPort } from '../../platform/nodejs/listen.ts';
import { startMultinet, type ManagedProcess } from '../multinet-process.ts';
import { shimPath, spawnerPath } from '../go-programs.ts';
import type { KubeNode } from './kube-node.ts';
import { proveAPodGetsItsNetwork } from './probe-pod.ts';

export interface MultinetOnNode {
  readonly processes: readonly ManagedProcess[];
  /** Stops the agent and starts it again with the same flags; resolves once it is ready. */
  restartAgent(): Promise<void>;
  /** The agent's state dir and socket. */
  readonly stateDir: string;
  readonly socket: string;
  readonly logDir: string;
  stop(): Promise<void>;
}

export interface MultinetOnNodeOptions {
  /** The CNI shim the agent installs (default: this checkout's, built on first use). */
  readonly shim?: string;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

/** Starts the controller, the webhook and the agent against `node`, and proves a pod gets its network. */
export async function startMultinetOnNode(
  node: KubeNode,
  options: MultinetOnNodeOptions = {},
): Promise<MultinetOnNode> {
  const log = options.log ?? ((): void => undefined);
  const { signal } = options;
  const shim = options.shim ?? shimPath();
  const kc = node.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const kubeconfig = node.adminKubeconfigPath;
  const logDir = join(node.layout.dir, 'multinet', 'logs');
  const stateDir = join(node.layout.dir, 'multinet', 'state');
  const socket = join(node.layout.dir, 'multinet', 'run', 'agent.sock');
  await mkdir(logDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
  };
  const waitReady = (what: string, port: number): Promise<true> =>
    eventually(`${what} to be ready`, () => httpOk(`http://127.0.0.1:${port}/readyz`), {
      ...(signal ? { signal } : {}),
      timeoutMs: 60_000,
    });
  try {
    log('installing the CRDs and starting the controller, the webhook and the agent (host processes)');
    await installCrds(kc);
    await core.createNamespace({ body: { metadata: { name: 'multinet' } } }).catch(() => undefined);
    const [controllerProbe, webhookPort, webhookProbe, agentProbe] = [
      await freeLoopbackPort(),
      await freeLoopbackPort(),
      await freeLoopbackPort(),
      await freeLoopbackPort(),
    ];
    const common = ['--kubeconfig', kubeconfig, '--log-format', 'text'];
    const agentArgs = [
      'agent',
      ...common,
      '--node-name',
      node.nodeName,
      '--pod-resources-socket',
      node.vfs.podResourcesSocket,
      '--device-info-dir',
      node.vfs.deviceInfoDir,
      '--cni-conf-dir',
      node.layout.cniConfDir,
      '--cni-bin-dir',
      node.layout.cniBinDir,
      '--state-dir',
      stateDir,
      '--socket',
      socket,
      '--shim-source',
      shim,
      '--spawner',
      spawnerPath(),
      '--probe-listen',
      `127.0.0.1:${agentProbe}`,
    ];
    processes.push(
      startMultinet(
        'controller',
        ['controller', ...common, '--probe-listen', `127.0.0.1:${controllerProbe}`],
        logDir,
      ),
      startMultinet(
        'webhook',
        [
          'webhook',
          ...common,
          '--namespace',
          'multinet',
          '--listen',
          `127.0.0.1:${webhookPort}`,
          '--probe-listen',
          `127.0.0.1:${webhookProbe}`,
          '--register',
          '--inject-resources',
        ],
        logDir,
      ),
      startMultinet('agent', agentArgs, logDir),
    );
    await Promise.all([
      waitReady('the controller', controllerProbe),
      waitReady('the webhook', webhookProbe),
      waitReady('the agent', agentProbe),
    ]);
    await eventually(
      'the agent to write 00-multinet.conflist',
      () => (existsSync(join(node.layout.cniConfDir, '00-multinet.conflist')) ? true : undefined),
      { ...(signal ? { signal } : {}), timeoutMs: 30_000 },
    );
    await proveAPodGetsItsNetwork(core, signal);
    log(
      'multinet runs on the node: a probe pod got its network through the shim and the agent, and was deleted',
    );
    const restartAgent = async (): Promise<void> => {
      const index = processes.findIndex((p) => p.name === 'agent');
      await processes[index]!.stop();
      processes[index] = startMultinet('agent', agentArgs, logDir);
      await waitReady('the restarted agent', agentProbe);
    };
    return { processes, restartAgent, stateDir, socket, logDir, stop };
  } catch (err) {
    const exited = processes.filter((p) => p.exitStatus() !== null);
    await stop();
    const detail = exited.map((p) => `${p.name} exited with ${String(p.exitStatus())} (log ${p.logFile})`);
    throw new Error(
      `multinet did not start on the node: ${err instanceof Error ? err.message : String(err)}${detail.length ? `; ${detail.join('; ')}` : ''} (logs in ${logDir})`,
      { cause: err },
    );
  }
}
