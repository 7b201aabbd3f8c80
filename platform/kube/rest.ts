/**
 * The one Kubernetes client of every component: JSON requests and watches over one keep-alive
 * connection pool, with a client-side rate limit (client-go's QPS/Burst). @kubernetes/client-node 2.x
 * opens a new TLS connection per request (about 12 ms each against a local API server, versus 2.5 ms
 * on a reused one) and costs about 50 MB and a second to load, so no component uses it at run time.
 *
 *   const client = new KubeRestClient(loadKubeConfig({ kubeconfig, env }), { fieldManager: 'multinet-agent' });
 *   const pod = await client.request<Pod>({ method: 'GET', path: '/api/v1/namespaces/ns/pods/p' });
 *   await client.watch('/api/v1/pods', { resourceVersion }, (event) => ..., signal);
 *
 * - Every write (POST, PUT, PATCH) carries the client's field manager (`multinet-<component>`).
 * - Failures are KubeApiError (the HTTP code and the Status reason; code 0 when there was no answer),
 *   tested with isNotFound, isConflict, isForbidden, isGone and friends.
 * - Credentials come from platform/kube/kubeconfig.ts and are read again every minute and after a
 *   401, so rotated ServiceAccount tokens and certificates are picked up.
 * - A request that finds its reused connection closed by the server is sent again once; a 429 is
 *   retried after the server's Retry-After (at most 3 times).
 */
import type * as Http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { http, https } from '../nodejs/http.ts';
import { clusterConfigOf, readCredentials, type ClusterConfig, type KubeAccess } from './kubeconfig.ts';
import { TokenBucket } from './token-bucket.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export const contentTypes = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface KubeRequest {
  readonly method: HttpMethod;
  /** The API path, e.g. /apis/coordination.k8s.io/v1/namespaces/ns/leases/name. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  /** Content type of the body (default application/json). */
  readonly contentType?: string;
  /** The Accept header (default application/json); see `metadataOnly`. */
  readonly accept?: string;
  /** Resolve with undefined instead of decoding the answer (writes whose result nobody reads). */
  readonly ignoreResponse?: boolean;
  readonly signal?: AbortSignal;
}

/** Accept headers that ask for objects as PartialObjectMetadata: metadata only, no spec or status. */
export const metadataOnly = {
  object: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
  list: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
} as const;

/** The one thing platform/kube's writers need: send a request, get the decoded JSON or a KubeApiError. */
export interface KubeRequester {
  request<T = unknown>(request: KubeRequest): Promise<T>;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T = unknown> {
  readonly type: WatchEventType;
  readonly object: T;
}

/** What informers need: requests, and watches that deliver events until the server ends them. */
export interface KubeClient extends KubeRequester {
  /**
   * Watches `path` (a collection) with `query` (resourceVersion, selectors, ...; `watch=1` is added).
   * Calls onEvent for each event; resolves when the server ends the watch, rejects on errors.
   */
  watch<T = unknown>(
    path: string,
    query: Readonly<Record<string, string | undefined>>,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
    accept?: string,
  ): Promise<void>;
}

/** A failed API call: the HTTP code (0 when the server did not answer) and the Status reason and message. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
  }

  /** From a metav1.Status (a failed response's body, or a watch ERROR event's object). */
  static fromStatus(code: number, status: unknown): KubeApiError {
    const s = (typeof status === 'object' && status !== null ? status : {}) as {
      code?: unknown;
      reason?: unknown;
      message?: unknown;
    };
    const statusCode = typeof s.code === 'number' && s.code > 0 ? s.code : code;
    return new KubeApiError(
      statusCode,
      typeof s.reason === 'string' ? s.reason : '',
      typeof s.message === 'string' && s.message ? s.message : `HTTP ${statusCode}`,
    );
  }
}

function hasCode(err: unknown, code: number): boolean {
  return err instanceof KubeApiError && err.code === code;
}

export const isNotFound = (err: unknown): boolean => hasCode(err, 404);
export const isConflict = (err: unknown): boolean => hasCode(err, 409);
export const isAlreadyExists = (err: unknown): boolean =>
  hasCode(err, 409) && (err as KubeApiError).reason === 'AlreadyExists';
export const isForbidden = (err: unknown): boolean => hasCode(err, 403);
export const isUnauthorized = (err: unknown): boolean => hasCode(err, 401);
/** 410: a watch's or list's resourceVersion is too old (compacted); list again. */
export const isGone = (err: unknown): boolean => hasCode(err, 410);
export const isInvalid = (err: unknown): boolean => hasCode(err, 422);
/** The API server did not answer (connection refused or reset, timeout). */
export const isUnreachable = (err: unknown): boolean => hasCode(err, 0);

export interface KubeRestOptions {
  /** Requests a second (client-go's QPS); <= 0 for no limit. Default 50. */
  readonly qps?: number;
  /** Requests allowed at once above the rate (client-go's Burst). Default 100. */
  readonly burst?: number;
  /** Connections kept for requests (watches have their own). Default 8. */
  readonly maxSockets?: number;
  /** Per-request timeout. Default 30 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** The field manager of every write: `multinet-<component>`. Default "multinet". */
  readonly fieldManager?: string;
}

interface Transport {
  readonly agent: Http.Agent;
  readonly watchAgent: Http.Agent;
  readonly headers: Readonly<Record<string, string>>;
  readonly appliedAt: number;
  /** The TLS material the agents were built with; new agents when it changes (rotated certificates). */
  readonly tlsKey: string;
}

interface Response {
  readonly code: number;
  readonly text: string;
  readonly retryAfterMs: number | undefined;
}

const credentialTtlMs = 60_000;
const writes = new Set<HttpMethod>(['POST', 'PUT', 'PATCH']);

function statusError(code: number, text: string): KubeApiError {
  try {
    return KubeApiError.fromStatus(code, JSON.parse(text));
  } catch {
    return new KubeApiError(code, '', text.slice(0, 500) || `HTTP ${code}`);
  }
}

function unreachable(request: { method: string; path: string }, err: unknown): KubeApiError {
  const message = err instanceof Error ? err.message : String(err);
  return new KubeApiError(0, 'Unreachable', `${request.method} ${request.path}: ${message}`, { cause: err });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

function isConnectionReset(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

export class KubeRestClient implements KubeClient {
  private readonly config: ClusterConfig;
  private readonly base: string;
  private readonly secure: boolean;
  private readonly options: KubeRestOptions;
  private readonly bucket: TokenBucket;
  private transport: Promise<Transport> | undefined;
  private stale = false;
  private closed = false;
  /** Requests sent, watches included (for metrics and tests). */
  requests = 0;
  /** Connections opened for requests (not watches): stays at the pool size under load. */
  connections = 0;
  /** Every connection a request has used (a request on a known one reuses it). */
  private readonly sockets = new WeakSet<object>();

  constructor(access: KubeAccess, options: KubeRestOptions = {}) {
    this.config = clusterConfigOf(access);
    this.base = this.config.server.replace(/\/+$/, '');
    this.secure = new URL(this.base).protocol === 'https:';
    this.options = options;
    this.bucket = new TokenBucket(options.qps ?? 50, options.burst ?? 100, Date.now());
  }

  /** The field manager this client writes with. */
  get fieldManager(): string {
    return this.options.fieldManager ?? 'multinet';
  }

  private async makeTransport(previous: Transport | undefined): Promise<Transport> {
    const credentials = await readCredentials(this.config);
    const tlsKey = [credentials.ca, credentials.cert, credentials.key].map((v) => v ?? '').join('\0');
    if (previous && previous.tlsKey === tlsKey)
      return { ...previous, headers: credentials.headers, appliedAt: Date.now() };
    const tls = {
      ...(credentials.ca ? { ca: credentials.ca } : {}),
      ...(credentials.cert ? { cert: credentials.cert, key: credentials.key } : {}),
      ...(this.config.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
      ...(this.config.tlsServerName ? { servername: this.config.tlsServerName } : {}),
    };
    const make = (maxSockets: number): Http.Agent => {
      const options = { keepAlive: true, maxSockets, scheduling: 'lifo' as const, timeout: 60_000 };
      return this.secure ? new https.Agent({ ...options, ...tls }) : new http.Agent(options);
    };
    if (previous) {
      // Requests in flight finish on the old connections; watches resume on the new ones.
      const old = previous;
      setTimeout(() => old.agent.destroy(), (this.options.timeoutMs ?? 30_000) + 1000).unref();
      old.watchAgent.destroy();
    }
    return {
      agent: make(this.options.maxSockets ?? 8),
      watchAgent: make(Infinity),
      headers: credentials.headers,
      appliedAt: Date.now(),
      tlsKey,
    };
  }

  private async currentTransport(): Promise<Transport> {
    const current = await this.transport?.catch(() => undefined);
    if (!current || this.stale || Date.now() - current.appliedAt > credentialTtlMs) {
      this.stale = false;
      const next = this.makeTransport(current);
      this.transport = next;
      next.catch(() => {
        if (this.transport === next) this.transport = current ? Promise.resolve(current) : undefined;
        this.stale = true;
      });
    }
    return this.transport!;
  }

  private async waitForToken(signal: AbortSignal | undefined): Promise<void> {
    const delay = this.bucket.reserve(Date.now());
    if (delay > 0) await sleep(delay, undefined, signal ? { signal } : undefined);
  }

  private url(path: string, query: Readonly<Record<string, string | undefined>> | undefined): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, v);
    const search = params.toString();
    return `${this.base}${path}${search ? `?${search}` : ''}`;
  }

  private headers(transport: Transport, accept = contentTypes.json as string): Record<string, string> {
    return {
      ...transport.headers,
      Accept: accept,
      ...(this.options.userAgent ? { 'User-Agent': this.options.userAgent } : {}),
    };
  }

  async request<T = unknown>(request: KubeRequest): Promise<T> {
    if (this.closed) throw new Error('the Kubernetes client is closed');
    const query =
      writes.has(request.method) && request.query?.fieldManager === undefined
        ? { ...request.query, fieldManager: this.fieldManager }
        : request.query;
    const url = this.url(request.path, query);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    await this.waitForToken(request.signal);
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const transport = await this.currentTransport();
      const response = await this.send(transport, request, url, body);
      if (response.code === 401 && !refreshed) {
        refreshed = true;
        this.stale = true;
        continue;
      }
      if (response.code === 429 && attempt < 3 && !request.signal?.aborted) {
        await sleep(
          Math.min(response.retryAfterMs ?? 1000, 10_000),
          undefined,
          request.signal ? { signal: request.signal } : undefined,
        );
        continue;
      }
      if (response.code < 200 || response.code >= 300) throw statusError(response.code, response.text);
      return (response.text && !request.ignoreResponse ? JSON.parse(response.text) : undefined) as T;
    }
  }

  private send(
    transport: Transport,
    request: KubeRequest,
    url: string,
    body: string | undefined,
    retried = false,
  ): Promise<Response> {
    const headers: Record<string, string> = this.headers(transport, request.accept);
    if (body !== undefined) {
      headers['Content-Type'] = request.contentType ?? contentTypes.json;
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const lib = this.secure ? https : http;
    this.requests++;
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: request.method,
          headers,
          agent: transport.agent,
          timeout: this.options.timeoutMs ?? 30_000,
          ...(request.signal ? { signal: request.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const retryAfter = Number(res.headers['retry-after']);
            resolve({
              code: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
            });
          });
          res.on('error', (err) => reject(unreachable(request, err)));
        },
      );
      let reused = false;
      req.on('socket', (socket) => {
        reused = this.sockets.has(socket);
        if (!reused) {
          this.sockets.add(socket);
          this.connections++;
        }
      });
      req.on('timeout', () => req.destroy(new Error('no answer within the timeout')));
      req.on('error', (err) => {
        if (request.signal?.aborted) reject(abortError(request.signal));
        else if (!retried && reused && isConnectionReset(err))
          // The server closed the idle connection as we reused it: nothing was processed.
          resolve(this.send(transport, request, url, body, true));
        else reject(unreachable(request, err));
      });
      req.end(body);
    });
  }

  async watch<T = unknown>(
    path: string,
    query: Readonly<Record<string, string | undefined>>,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
    accept?: string,
  ): Promise<void> {
    if (this.closed) throw new Error('the Kubernetes client is closed');
    await this.waitForToken(signal);
    const transport = await this.currentTransport();
    const url = this.url(path, { ...query, watch: '1' });
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    const lib = this.secure ? https : http;
    this.requests++;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => reject(signal.aborted ? abortError(signal) : err);
      const req = lib.request(
        url,
        {
          method: 'GET',
          headers: this.headers(transport, accept),
          agent: transport.watchAgent,
          // The server ends a watch after timeoutSeconds and sends bookmarks about every minute.
          timeout: Math.max(timeoutSeconds, 60) * 1000 + 30_000,
          signal,
        },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              if (res.statusCode === 401) this.stale = true;
              fail(statusError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
            });
            res.on('error', (err) => fail(unreachable({ method: 'WATCH', path }, err)));
            return;
          }
          res.setEncoding('utf8');
          let buffered = '';
          res.on('data', (chunk: string) => {
            buffered += chunk;
            for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
              const line = buffered.slice(0, newline);
              buffered = buffered.slice(newline + 1);
              if (!line.trim()) continue;
              let event: WatchEvent<T>;
              try {
                event = JSON.parse(line) as WatchEvent<T>;
              } catch {
                req.destroy(new Error(`watch ${path}: undecodable event: ${line.slice(0, 200)}`));
                return;
              }
              onEvent(event);
            }
          });
          res.on('end', () => resolve());
          res.on('error', (err) => fail(unreachable({ method: 'WATCH', path }, err)));
        },
      );
      req.on('timeout', () => req.destroy(new Error('the watch went silent')));
      req.on('error', (err) => fail(unreachable({ method: 'WATCH', path }, err)));
      req.end();
    });
  }

  /** Closes the pooled connections; later requests fail. */
  close(): void {
    this.closed = true;
    void this.transport
      ?.then((t) => {
        t.agent.destroy();
        t.watchAgent.destroy();
      })
      .catch(() => undefined);
  }
}
