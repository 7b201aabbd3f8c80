/**
 * Serves a built agent: the CNI handler on its unix socket and, when asked, /healthz, /readyz and
 * /metrics on a TCP port. Listening is the entry point's decision (as for the controller and the
 * webhook): it passes the functions that listen (platform/nodejs/listen.ts).
 *
 * Two agents may run on one node for a while: a DaemonSet rolled with maxSurge starts the new agent
 * before it stops the old one. The new one takes the socket path over (renamed into place) and then
 * the probe port: the old one sees its socket replaced, closes its probe listener and stays unready
 * until it is stopped, never removing the path (listenUnixSocket). An agent whose socket path is gone
 * (removed by someone else) fails its liveness check, so the kubelet restarts it and it binds again.
 * Stopped (SIGTERM), an agent lets the requests in flight finish before it exits.
 */
import type { Server } from 'node:http';
import { http } from '../platform/nodejs/http.ts';
import type { Server as NetServer } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'winston';
import {
  closeServer,
  type SocketState,
  type TcpOptions,
  type UnixSocketListener,
} from '../platform/nodejs/listen.ts';
import { createProbeHandler } from '../platform/nodejs/probe-server.ts';
import type { Agent } from './agent.ts';

export interface AgentListeners {
  /** Listens on a private unix socket (directory 0700, socket 0600), renamed into place. */
  readonly unixSocket: (server: NetServer, path: string) => Promise<UnixSocketListener>;
  /** Listens on host:port and returns the port. */
  readonly tcp: (server: NetServer, host: string, port: number, options?: TcpOptions) => Promise<number>;
}

export interface AgentServing {
  readonly socketPath: string;
  readonly probe?: { readonly host: string; readonly port: number } | undefined;
  readonly registry: Registry;
  /** More readiness checks (the Kubernetes informers). */
  readonly ready?: Readonly<Record<string, () => boolean>>;
  readonly log: Logger;
  /** How long to wait for the probe port while the agent this one replaces holds it. Default 60 s. */
  readonly probeWaitMs?: number;
  /** How often the socket path is checked for a successor. Default 1 s. */
  readonly socketCheckMs?: number;
  /** How long close() lets requests in flight finish before it cuts their connections. Default 20 s. */
  readonly drainMs?: number;
}

export interface ServedAgent {
  /** The probe server's port, when it listens. */
  readonly probePort: number | undefined;
  /** Whose socket is at the socket path now. */
  socketState(): SocketState;
  /**
   * Closes the servers: the socket path goes (if still this agent's), requests in flight may finish
   * (bounded by drainMs), then the remaining connections are cut. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** Starts listening; on a failure the servers already listening are closed and the error thrown. */
export async function serveAgent(
  agent: Pick<Agent, 'handler'>,
  serving: AgentServing,
  listen: AgentListeners,
): Promise<ServedAgent> {
  const server = http.createServer(agent.handler);
  server.keepAliveTimeout = 1000;
  let socket: UnixSocketListener | undefined;
  const socketState = (): SocketState => socket?.state() ?? 'gone';
  let probes: Server | undefined;
  if (serving.probe) {
    probes = http.createServer(
      createProbeHandler({
        registry: serving.registry,
        live: { cniSocket: () => server.listening && socketState() !== 'gone' },
        ready: { cniSocket: () => server.listening && socketState() === 'owned', ...serving.ready },
      }),
    );
  }
  let watch: NodeJS.Timeout | undefined;
  const closeProbes = async (): Promise<void> => {
    probes?.closeAllConnections();
    if (probes?.listening) await closeServer(probes);
  };
  const close = async (): Promise<void> => {
    clearInterval(watch);
    server.closeIdleConnections();
    let finished = false;
    const drained = Promise.all([socket ? socket.close() : undefined, closeProbes()]).then(() => {
      finished = true;
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!finished) {
          serving.log.warn('CNI requests still in flight at shutdown; closing their connections');
          server.closeAllConnections();
        }
        resolve();
      }, serving.drainMs ?? 20_000);
      timer.unref();
    });
    await Promise.race([drained, bound]);
    clearTimeout(timer);
    await drained;
  };
  try {
    socket = await listen.unixSocket(server, serving.socketPath);
    const probePort =
      probes && serving.probe
        ? await listen.tcp(probes, serving.probe.host, serving.probe.port, {
            waitMs: serving.probeWaitMs ?? 60_000,
            onWait: () =>
              serving.log.info(
                'the probe port is in use; waiting for the agent this one replaces to hand it over',
                {
                  probe: `${serving.probe!.host}:${serving.probe!.port}`,
                },
              ),
          })
        : undefined;
    let last: SocketState = 'owned';
    watch = setInterval(() => {
      const now = socketState();
      if (now === last) return;
      last = now;
      if (now === 'replaced') {
        serving.log.warn(
          'another agent took over the CNI socket (a rolling update); handing it the probe port and serving no new requests',
          { socket: serving.socketPath },
        );
        void closeProbes();
      } else if (now === 'gone') {
        serving.log.error('the CNI socket was removed; liveness fails so that the agent is restarted', {
          socket: serving.socketPath,
        });
      }
    }, serving.socketCheckMs ?? 1000);
    watch.unref();
    return { probePort, socketState, close };
  } catch (err) {
    await close();
    throw err;
  }
}
