/**
 * Serves a built agent: the CNI handler on its unix socket and, when asked, /healthz, /readyz and
 * /metrics on a TCP port. Listening is the entry point's decision (as for the controller and the
 * webhook): it passes the functions that listen (platform/nodejs/listen.ts).
 */
import type { Server } from 'node:http';
import { http } from '../platform/nodejs/http.ts';
import type { Server as NetServer } from 'node:net';
import type { Registry } from 'prom-client';
import { closeServer } from '../platform/nodejs/listen.ts';
import { createProbeHandler } from '../platform/nodejs/probe-server.ts';
import type { Agent } from './agent.ts';

export interface AgentListeners {
  /** Listens on a private unix socket (directory 0700, socket 0600). */
  readonly unixSocket: (server: NetServer, path: string) => Promise<void>;
  /** Listens on host:port and returns the port. */
  readonly tcp: (server: NetServer, host: string, port: number) => Promise<number>;
}

export interface AgentServing {
  readonly socketPath: string;
  readonly probe?: { readonly host: string; readonly port: number } | undefined;
  readonly registry: Registry;
  /** More readiness checks (the Kubernetes informers). */
  readonly ready?: Readonly<Record<string, () => boolean>>;
}

export interface ServedAgent {
  /** The probe server's port, when it listens. */
  readonly probePort: number | undefined;
  /** Closes the servers (connections included); safe to call more than once. */
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
  let probes: Server | undefined;
  if (serving.probe) {
    probes = http.createServer(
      createProbeHandler({
        registry: serving.registry,
        live: { cniSocket: () => server.listening },
        ready: { cniSocket: () => server.listening, ...serving.ready },
      }),
    );
  }
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await Promise.all([
      server.listening ? closeServer(server) : undefined,
      probes?.listening ? closeServer(probes) : undefined,
    ]);
  };
  try {
    await listen.unixSocket(server, serving.socketPath);
    const probePort =
      probes && serving.probe ? await listen.tcp(probes, serving.probe.host, serving.probe.port) : undefined;
    return { probePort, close };
  } catch (err) {
    await close();
    throw err;
  }
}
