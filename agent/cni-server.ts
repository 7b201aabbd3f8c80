/**
 * The agent's CNI endpoint: POST /cni with a CniRequest (JSON), answered with a CniReply. Served over
 * a unix socket (mode 0600 in a 0700 directory) that only root on the node can reach. The handler runs
 * requests through the WorkLimiter (bounded concurrency and queue, one at a time per container).
 *
 * Memory is bounded before anything queues: a body larger than a CNI request can be, JSON nested deeper
 * than a network configuration is, or more request bytes held at once than the bound (read, queued and
 * running requests together) are refused with a CNI error that says so, never with a reset, which the
 * shim would take for an agent that is away. A body must arrive within seconds, and large bodies may
 * hold only part of the bound: clients that stall their bodies cannot hold the bound for long, nor all
 * of it, and a real CNI request (a few KiB) finds room in the share kept for small ones.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { isSupportedCniVersion, latestCniVersion } from '../lib/cni/version.ts';
import type { Logger } from 'winston';
import { asCniError, CniError, CniErrorCode } from '../lib/cni/error.ts';
import {
  agentVersionHeader,
  cniEndpoint,
  cniVersionHeader,
  parseCniRequest,
  protocolHeader,
  servedProtocols,
  shimVersionHeader,
  wireProtocol,
  type CniReply,
  type CniRequest,
} from '../lib/cni/request.ts';
import { errorMessage } from '../lib/errors.ts';
import { isObject, jsonNestsDeeperThan, type JsonObject } from '../lib/safe-json.ts';
import { QueueFullError } from './limiter.ts';

export interface RequestBounds {
  /** The largest body. A runtime sends a few KiB (the generated config and its capability arguments). */
  readonly maxBodyBytes: number;
  /** The deepest nesting of arrays and objects (network configurations nest fewer than 10 levels). */
  readonly maxDepth: number;
  /** Bytes of request bodies held at once, by all requests from their first byte to their answer. */
  readonly maxBytesInFlight: number;
  /** A body larger than this (declared or read so far) is large: it may not use the share kept for small ones. */
  readonly smallBodyBytes: number;
  /** The share of maxBytesInFlight only small bodies may use. */
  readonly reservedForSmallBytes: number;
  /** How long a body may take to arrive, from the request's headers to its last byte. */
  readonly bodyTimeoutMs: number;
}

export const defaultRequestBounds: RequestBounds = {
  maxBodyBytes: 1024 * 1024,
  maxDepth: 64,
  maxBytesInFlight: 16 * 1024 * 1024,
  smallBodyBytes: 64 * 1024,
  reservedForSmallBytes: 4 * 1024 * 1024,
  bodyTimeoutMs: 10_000,
};

export interface CniHandlerDeps {
  /** The agent's multinet version: named in every answer, and in refusals of a shim of another protocol. */
  readonly agentVersion: string;
  /** Serves a request (the attacher, through the limiter). */
  readonly handle: (request: CniRequest) => Promise<JsonObject | null>;
  /** The limiter's counts, for /healthz. */
  readonly stats: () => { running: number; waiting: number };
  /** Runs before the request is queued (e.g. waiting for the node's default network). */
  readonly prepare?: (request: CniRequest) => Promise<void>;
  readonly log: Logger;
  readonly bounds?: Partial<RequestBounds>;
  /** Observes each finished request (metrics). */
  readonly observe?: (command: string, outcome: 'ok' | 'error', seconds: number) => void;
}

/** Bytes held by requests being read, queued or run; large bodies stop short of the share kept for small ones. */
class ByteBudget {
  held = 0;
  private readonly limit: number;
  private readonly reserved: number;
  constructor(limit: number, reserved: number) {
    this.limit = limit;
    this.reserved = Math.min(reserved, limit);
  }
  take(bytes: number, large: boolean): boolean {
    if (this.held + bytes > this.limit - (large ? this.reserved : 0)) return false;
    this.held += bytes;
    return true;
  }
  give(bytes: number): void {
    this.held -= bytes;
  }
}

/**
 * The request body, its bytes taken from the budget (the caller gives them back when it answers). A
 * body over a bound is read to its end and dropped, so that the client gets a CNI error that says so;
 * one that does not arrive within bodyTimeoutMs is refused as it stands (the caller closes the
 * connection after the answer).
 */
function readBody(
  req: IncomingMessage,
  bounds: RequestBounds,
  budget: ByteBudget,
): Promise<{ text: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const declared = Number(req.headers['content-length']);
    let size = 0;
    let taken = 0;
    let refusal: CniError | 'too large' | undefined;
    const refuse = (error: CniError | 'too large'): void => {
      refusal ??= error;
      chunks.length = 0;
      budget.give(taken);
      taken = 0;
    };
    const tooLarge = (): CniError =>
      new CniError(
        CniErrorCode.decodeFailure,
        `the request is ${size} bytes; the agent accepts at most ${bounds.maxBodyBytes} (is the network configuration that large?)`,
      );
    const timer = setTimeout(() => {
      refuse(
        new CniError(
          CniErrorCode.ioFailure,
          `the request body did not arrive within ${bounds.bodyTimeoutMs / 1000} s (${size} of ${Number.isInteger(declared) ? declared : 'an undeclared number of'} bytes)`,
        ),
      );
      reject(refusal instanceof CniError ? refusal : tooLarge());
    }, bounds.bodyTimeoutMs);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refusal) return;
      const large = Math.max(size, Number.isInteger(declared) ? declared : 0) > bounds.smallBodyBytes;
      if (size > bounds.maxBodyBytes) refuse('too large');
      else if (!budget.take(chunk.length, large)) {
        refuse(
          new CniError(
            CniErrorCode.tryAgainLater,
            large
              ? `the agent holds ${bounds.maxBytesInFlight - bounds.reservedForSmallBytes} bytes of large CNI requests (over ${bounds.smallBodyBytes} bytes) already; try again later`
              : `the agent holds ${bounds.maxBytesInFlight} bytes of CNI requests already; try again later`,
          ),
        );
      } else {
        taken += chunk.length;
        chunks.push(chunk);
      }
    });
    req.on('end', () => {
      clearTimeout(timer);
      if (refusal === 'too large') reject(tooLarge());
      else if (refusal) reject(refusal);
      else resolve({ text: Buffer.concat(chunks).toString('utf8'), bytes: taken });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      refuse(new CniError(CniErrorCode.ioFailure, err.message));
      reject(err);
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown, agentVersion: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    [agentVersionHeader]: agentVersion,
    [protocolHeader]: String(wireProtocol),
  });
  res.end(text);
}

/** The shim as its headers describe it: shims from before the headers send none and speak protocol 1. */
export function shimOf(req: Pick<IncomingMessage, 'headers'>): { version: string; protocol: number } {
  const version = req.headers[shimVersionHeader];
  const protocol = req.headers[protocolHeader];
  return {
    version: typeof version === 'string' && version ? version : '',
    protocol: typeof protocol === 'string' && /^\d{1,6}$/.test(protocol) ? Number(protocol) : 1,
  };
}

/**
 * Refuses a shim of a wire protocol this agent does not serve, naming both versions. Code 11 (try again
 * later): the skew of a rolling upgrade passes once the node's agent and shim are of one release again.
 */
export function protocolRefusal(
  shim: { version: string; protocol: number },
  agentVersion: string,
): CniError | undefined {
  if (servedProtocols.includes(shim.protocol)) return undefined;
  const shimName = shim.version ? `multinet-cni ${shim.version}` : 'the multinet CNI shim';
  return new CniError(
    CniErrorCode.tryAgainLater,
    `${shimName} speaks wire protocol ${shim.protocol}; the multinet agent ${agentVersion} on this node serves protocol ${servedProtocols.join(', ')}: the shim and the agent are of different multinet releases (an upgrade in progress, or a shim left by another install); once the node's agent and shim are of one release this succeeds`,
  );
}

/**
 * The cniVersion to answer in: the request's, also when the request was refused; before its body
 * could be read, the one the shim read from the runtime's configuration (cniVersionHeader).
 */
function versionOf(body: unknown, req: IncomingMessage): string {
  const version = isObject(body) && isObject(body.config) ? body.config.cniVersion : undefined;
  if (isSupportedCniVersion(version)) return version;
  const shims = req.headers[cniVersionHeader];
  return isSupportedCniVersion(shims) ? shims : latestCniVersion;
}

export function createCniHandler(deps: CniHandlerDeps): RequestListener {
  const bounds: RequestBounds = { ...defaultRequestBounds, ...deps.bounds };
  const budget = new ByteBudget(bounds.maxBytesInFlight, bounds.reservedForSmallBytes);
  const skewed = new Set<string>();
  return (req, res) => {
    if (req.url === '/healthz' && req.method === 'GET') {
      send(res, 200, { ok: true, ...deps.stats() }, deps.agentVersion);
      return;
    }
    if (req.url !== cniEndpoint || req.method !== 'POST') {
      req.resume();
      send(res, 404, { error: `POST ${cniEndpoint} only` }, deps.agentVersion);
      return;
    }
    const shim = shimOf(req);
    if (
      shim.version !== deps.agentVersion &&
      !skewed.has(`${shim.version}/${shim.protocol}`) &&
      skewed.size < 16
    ) {
      skewed.add(`${shim.version}/${shim.protocol}`);
      deps.log.warn('the CNI shim on this node is of another multinet release than the agent', {
        shimVersion: shim.version || '(none: older than version headers)',
        shimProtocol: shim.protocol,
        agentVersion: deps.agentVersion,
      });
    }
    const started = performance.now();
    let request: CniRequest | undefined;
    let body: unknown;
    let held = 0;
    void (async () => {
      try {
        const refusal = protocolRefusal(shim, deps.agentVersion);
        if (refusal) throw refusal;
        const { text, bytes } = await readBody(req, bounds, budget);
        held = bytes;
        if (jsonNestsDeeperThan(text, bounds.maxDepth)) {
          throw new CniError(
            CniErrorCode.decodeFailure,
            `the request nests arrays and objects deeper than ${bounds.maxDepth} levels`,
          );
        }
        body = JSON.parse(text);
        request = parseCniRequest(body);
        const current = request;
        await deps.prepare?.(current);
        const result = await deps.handle(current);
        const reply: CniReply = { result };
        send(res, 200, reply, deps.agentVersion);
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
        const reply: CniReply = { error: error.toJson(versionOf(body, req)) };
        // A body that was not read to its end (it stalled) is not waited for: the connection goes.
        if (!req.complete) res.once('finish', () => req.destroy());
        if (!res.headersSent && !res.destroyed) send(res, 200, reply, deps.agentVersion);
        deps.observe?.(request?.command ?? 'unknown', 'error', (performance.now() - started) / 1000);
      } finally {
        budget.give(held);
      }
    })();
  };
}
