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
import type { JsonObject } from '../lib/safe-json.ts';
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

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new CniError(CniErrorCode.decodeFailure, `request larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function versionOf(request: CniRequest | undefined): string {
  const version = request?.config.cniVersion;
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
    void (async () => {
      try {
        request = parseCniRequest(JSON.parse(await readBody(req, limit)));
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
        const reply: CniReply = { error: error.toJson(versionOf(request)) };
        if (!res.headersSent) send(res, 200, reply);
        deps.observe?.(request?.command ?? 'unknown', 'error', (performance.now() - started) / 1000);
      }
    })();
  };
}
