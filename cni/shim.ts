/**
 * The CNI shim that the container runtime executes: reads the CNI environment and stdin, forwards the
 * request to the node agent over its unix socket, and prints the agent's result (in the request's CNI
 * version) or a CNI error. VERSION is answered here. When the agent is away, ADD/CHECK wait a bounded
 * time for it; DEL succeeds at once only when the agent recorded nothing for the container.
 */
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import {
  attachmentCacheFile,
  cniRequestFromEnvironment,
  defaultSocketPath,
  defaultStateDir,
  type CniRequest,
} from '../lib/cni/request.ts';
import { convertCniResult, parseCniResult } from '../lib/cni/result.ts';
import { isSupportedCniVersion, latestCniVersion, supportedCniVersions } from '../lib/cni/version.ts';
import { AgentUnreachableError, type Transport } from './transport.ts';

export interface ShimIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly exists: (path: string) => boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

function versionOf(stdin: string): string {
  try {
    const parsed = JSON.parse(stdin) as { cniVersion?: unknown };
    if (isSupportedCniVersion(parsed.cniVersion)) return parsed.cniVersion;
  } catch {
    // fall through
  }
  return latestCniVersion;
}

function fail(io: ShimIo, version: string, error: CniError): number {
  io.stdout(`${JSON.stringify(error.toJson(version))}\n`);
  return 1;
}

function setting(request: CniRequest, key: string, fallback: string): string {
  const value = request.config[key];
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function seconds(request: CniRequest, key: string, fallback: number): number {
  const value = request.config[key];
  return typeof value === 'number' && value >= 0 ? value : fallback;
}

export async function runShim(io: ShimIo, transport: Transport): Promise<number> {
  const version = versionOf(io.stdin);
  let request: CniRequest;
  try {
    request = cniRequestFromEnvironment(io.env, io.stdin);
  } catch (err) {
    return fail(
      io,
      version,
      err instanceof CniError ? err : new CniError(CniErrorCode.invalidEnvironment, String(err)),
    );
  }
  if (request.command === 'VERSION') {
    io.stdout(`${JSON.stringify({ cniVersion: version, supportedVersions: supportedCniVersions })}\n`);
    return 0;
  }
  const socketPath = setting(request, 'socketPath', defaultSocketPath);
  const stateDir = setting(request, 'stateDir', defaultStateDir);
  const waitMs = seconds(request, 'agentWaitSeconds', 30) * 1000;
  const timeoutMs = seconds(request, 'requestTimeoutSeconds', 600) * 1000;
  const deadline = io.now() + waitMs;
  for (;;) {
    try {
      const reply = await transport.send(socketPath, request, timeoutMs);
      if ('error' in reply) {
        io.stdout(`${JSON.stringify({ ...reply.error, cniVersion: version })}\n`);
        return 1;
      }
      if (request.command === 'ADD') {
        if (!reply.result)
          return fail(
            io,
            version,
            new CniError(CniErrorCode.ioFailure, 'the agent returned no result for ADD'),
          );
        const result = convertCniResult(
          parseCniResult(reply.result),
          isSupportedCniVersion(version) ? version : latestCniVersion,
        );
        io.stdout(`${JSON.stringify(result)}\n`);
      }
      return 0;
    } catch (err) {
      if (!(err instanceof AgentUnreachableError)) {
        return fail(
          io,
          version,
          new CniError(
            CniErrorCode.ioFailure,
            `talking to the multinet agent at ${socketPath} failed: ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
      }
      if (
        request.command === 'DEL' &&
        !io.exists(attachmentCacheFile(stateDir, request.containerId, request.ifName))
      ) {
        // The agent recorded no attachment for this container: there is nothing to clean.
        return 0;
      }
      if (io.now() >= deadline) {
        const code =
          request.command === 'STATUS' ? CniErrorCode.pluginNotAvailable : CniErrorCode.tryAgainLater;
        return fail(
          io,
          version,
          new CniError(
            code,
            `the multinet agent is not reachable at ${socketPath} (waited ${Math.round(waitMs / 1000)} s): is the multinet agent running on this node?`,
            err.message,
          ),
        );
      }
      await io.sleep(200);
    }
  }
}
