/**
 * The agent's CNI endpoint: POST /cni with a CniRequest (JSON), answered with a CniReply. Served over
 * a unix socket (mode 0600 in a 0700 directory) that only root on the node can reach. Requests run
 * through the WorkLimiter: bounded concurrency and queue, one at a time per container.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { isSupportedCniVersion, latestCniVersion } from '../lib/cni/version.ts';
import type { Logger } from 'winston';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import { cniEndpoint, parseCniRequest, type CniReply, type CniRequest } from '../lib/cni/request.ts';
import { errorMessage } from '../lib/errors.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import { asCniError } from './delegate-runner.ts';
import { QueueFullError, type WorkLimiter } from './limiter.ts';

export interface CniHandlerDeps {
  readonly limiter: WorkLimiter;
  readonly handle: (request: CniRequest) => Promise<JsonObject | null>;
  /** Runs before the request is queued (e.g. waiting for the node's default network). */
  readonly prepare?: (request: CniRequest) => Promise<void>;
  readonly log: Logger;
  readonly maxBodyBytes?: number;
  /** Observes each finished request (metrics). */
  readonly observe?: (command: string, outcome: 'ok' | 'error', seconds: number) => void;
}

/**
 * The request body; one over the limit is read to its end (and dropped) so that the client gets a
 * CNI error that says so, not a reset it could take for an agent that is away.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      if (size <= limit) resolve(Buffer.concat(chunks).toString('utf8'));
      else
        reject(
          new CniError(
            CniErrorCode.decodeFailure,
            `the request is ${size} bytes; the agent accepts at most ${limit} (is the network configuration that large?)`,
          ),
        );
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The cniVersion to answer in: the request's, also when the request was refused. */
function versionOf(body: unknown): string {
  const version = isObject(body) && isObject(body.config) ? body.config.cniVersion : undefined;
  return isSupportedCniVersion(version) ? version : latestCniVersion;
}

export function createCniHandler(deps: CniHandlerDeps): RequestListener {
  const limit = deps.maxBodyBytes ?? 1024 * 1024;
  return (req, res) => {
    if (req.url === '/healthz' && req.method === 'GET') {
      send(res, 200, { ok: true, ...deps.limiter.stats });
      return;
    }
    if (req.url !== cniEndpoint || req.method !== 'POST') {
      send(res, 404, { error: `POST ${cniEndpoint} only` });
      return;
    }
    const started = performance.now();
    let request: CniRequest | undefined;
    let body: unknown;
    void (async () => {
      try {
        body = JSON.parse(await readBody(req, limit));
        request = parseCniRequest(body);
        const current = request;
        const key = current.containerId || current.command;
        await deps.prepare?.(current);
        const result = await deps.limiter.run(key, () => deps.handle(current));
        const reply: CniReply = { result };
        send(res, 200, reply);
        deps.observe?.(current.command, 'ok', (performance.now() - started) / 1000);
      } catch (err) {
        const error =
          err instanceof QueueFullError
            ? new CniError(CniErrorCode.tryAgainLater, err.message)
            : err instanceof SyntaxError
              ? new CniError(CniErrorCode.decodeFailure, `request is not JSON: ${err.message}`)
              : asCniError(err);
        deps.log.warn('CNI request failed', {
          command: request?.command,
          containerId: request?.containerId,
          code: error.code,
          error: error.message,
          ...(err instanceof CniError ? {} : { cause: errorMessage(err) }),
        });
        const reply: CniReply = { error: error.toJson(versionOf(body)) };
        if (!res.headersSent) send(res, 200, reply);
        deps.observe?.(request?.command ?? 'unknown', 'error', (performance.now() - started) / 1000);
      }
    })();
  };
}
