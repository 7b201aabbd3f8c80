/**
 * A lean JSON client for the Kubernetes API on one keep-alive connection pool, with a client-side rate
 * limit (client-go's QPS/Burst). @kubernetes/client-node 2.x builds a new undici Agent, hence a new TLS
 * connection, for every request (about 12 ms each against a local API server, versus 2.5 ms on a reused
 * connection), which is fine for a list or a watch but not for a controller that writes thousands of
 * statuses; hot paths (status writes, Events, Leases) go through this client instead.
 *
 * Credentials come from the KubeConfig (client certificates, tokens, exec plugins, the in-cluster token
 * file) and are re-applied every minute and after a 401, so rotated tokens are picked up.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { TokenBucket } from './token-bucket.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export const contentTypes = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
} as const;

export interface KubeRequest {
  readonly method: HttpMethod;
  /** The API path, e.g. /apis/coordination.k8s.io/v1/namespaces/ns/leases/name. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  /** Content type of the body (default application/json). */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/** The one thing platform/kube's writers need: send a request, get the decoded JSON or a KubeApiError. */
export interface KubeRequester {
  request<T = unknown>(request: KubeRequest): Promise<T>;
}

/** A failed API call: the HTTP code and the Kubernetes Status reason and message. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409;
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409 && err.reason === 'AlreadyExists';
}

export interface KubeRestOptions {
  /** Requests a second (client-go's QPS); <= 0 for no limit. Default 50. */
  readonly qps?: number;
  /** Requests allowed at once above the rate (client-go's Burst). Default 100. */
  readonly burst?: number;
  /** Connections kept to the API server. Default 8. */
  readonly maxSockets?: number;
  /** Per-request timeout. Default 30 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

interface Transport {
  readonly agent: http.Agent;
  readonly headers: Record<string, string>;
  readonly appliedAt: number;
  /** The TLS material the agent was built with; a new agent when it changes (rotated certificates). */
  readonly tlsKey: string;
}

const credentialTtlMs = 60_000;

function statusError(code: number, text: string): KubeApiError {
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeApiError(code, status.reason ?? '', status.message ?? `HTTP ${code}`);
  } catch {
    return new KubeApiError(code, '', text.slice(0, 500) || `HTTP ${code}`);
  }
}

export class KubeRestClient implements KubeRequester {
  private readonly kc: KubeConfig;
  private readonly server: URL;
  private readonly options: KubeRestOptions;
  private readonly bucket: TokenBucket;
  private transport: Promise<Transport> | undefined;
  private closed = false;
  /** Requests sent (for metrics and tests). */
  requests = 0;

  constructor(kc: KubeConfig, options: KubeRestOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.kc = kc;
    this.server = new URL(cluster.server);
    this.options = options;
    this.bucket = new TokenBucket(options.qps ?? 50, options.burst ?? 100, Date.now());
  }

  private async makeTransport(previous: Transport | undefined): Promise<Transport> {
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
      ...(opts.servername ? { servername: opts.servername } : {}),
    };
    const material = (v: unknown): string =>
      v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v);
    const tlsKey = [tls.ca, tls.cert, tls.key].map(material).join('\0');
    let agent: http.Agent;
    if (previous && previous.tlsKey === tlsKey) agent = previous.agent;
    else {
      const agentOptions = { keepAlive: true, maxSockets: this.options.maxSockets ?? 8, scheduling: 'lifo' };
      agent =
        this.server.protocol === 'https:'
          ? new https.Agent({ ...agentOptions, ...tls } as https.AgentOptions)
          : new http.Agent(agentOptions as http.AgentOptions);
      previous?.agent.destroy();
    }
    return { agent, headers, appliedAt: Date.now(), tlsKey };
  }

  private async currentTransport(force = false): Promise<Transport> {
    const current = await this.transport?.catch(() => undefined);
    if (!current || force || Date.now() - current.appliedAt > credentialTtlMs) {
      this.transport = this.makeTransport(current);
      this.transport.catch(() => (this.transport = undefined));
    }
    return this.transport!;
  }

  private async waitForToken(signal: AbortSignal | undefined): Promise<void> {
    const delay = this.bucket.reserve(Date.now());
    if (delay <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delay);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
    });
  }

  async request<T = unknown>(request: KubeRequest): Promise<T> {
    if (this.closed) throw new Error('the Kubernetes client is closed');
    await this.waitForToken(request.signal);
    let transport = await this.currentTransport();
    let response = await this.send(transport, request);
    if (response.code === 401) {
      transport = await this.currentTransport(true);
      response = await this.send(transport, request);
    }
    if (response.code < 200 || response.code >= 300) throw statusError(response.code, response.text);
    return (response.text ? JSON.parse(response.text) : undefined) as T;
  }

  private send(transport: Transport, request: KubeRequest): Promise<{ code: number; text: string }> {
    const url = new URL(request.path, this.server);
    for (const [k, v] of Object.entries(request.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = {
      ...transport.headers,
      Accept: 'application/json',
      ...(this.options.userAgent ? { 'User-Agent': this.options.userAgent } : {}),
      ...(body !== undefined
        ? {
            'Content-Type': request.contentType ?? contentTypes.json,
            'Content-Length': String(Buffer.byteLength(body)),
          }
        : {}),
    };
    const lib = this.server.protocol === 'https:' ? https : http;
    this.requests++;
    return new Promise((resolve, reject) => {
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
          res.on('end', () =>
            resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${request.method} ${request.path}: no answer within the timeout`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Closes the pooled connections; later requests fail. */
  close(): void {
    this.closed = true;
    void this.transport?.then((t) => t.agent.destroy()).catch(() => undefined);
  }
}
