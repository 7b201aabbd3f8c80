/**
 * The one adapter between validators and the API server: checks the HTTP request (POST,
 * application/json, size), checks that the body is an AdmissionReview v1, runs the validator, and
 * answers with the request's uid, the verdict and its warnings. A validator that throws gives a
 * denied response with code 500 (the API server then reports the webhook's error), never a dropped
 * connection; every review is counted, timed and logged with its uid.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import {
  admissionReviewError,
  resourceName,
  reviewResponse,
  type AdmissionRequest,
  type AdmissionReview,
} from './admission-review.ts';
import type { ReviewOutcome, WebhookMetrics } from './metrics.ts';
import { deny, type Verdict } from './verdict.ts';

/** What a validator knows of the review besides the request. */
export interface ReviewContext {
  /**
   * Aborts when the API server stops waiting (its `?timeout=`, or the connection closed): work the
   * validator waits on (a NAD read) must give up then. Made on first use: most reviews never wait.
   */
  readonly signal: AbortSignal;
}

export type ReviewValidator = (
  request: AdmissionRequest,
  review: ReviewContext,
) => Verdict | Promise<Verdict>;

export interface AdapterOptions {
  readonly log: Logger;
  readonly metrics: WebhookMetrics;
  /** The largest body accepted (the API server sends object and oldObject: at least 2x etcd's 1.5 MiB). */
  readonly maxBodyBytes: number;
}

/** 3 MiB: twice the largest object etcd stores, since an UPDATE carries object and oldObject. */
export const defaultMaxBodyBytes = 3 * 1024 * 1024;

function elapsedSeconds(start: number): number {
  return (performance.now() - start) / 1000;
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semicolon = contentType.indexOf(';');
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return type === 'application/json';
}

export interface ValidatorRun {
  readonly verdict: Verdict;
  /** What the validator threw, when it did (the verdict is then a 500 denial). */
  readonly failed: boolean;
  readonly error?: unknown;
}

/** Runs a validator: its verdict, or a denial with code 500 when it throws. */
async function runValidator(
  validator: ReviewValidator,
  request: AdmissionRequest,
  review: ReviewContext,
): Promise<ValidatorRun> {
  try {
    return { verdict: await validator(request, review), failed: false };
  } catch (error) {
    return {
      verdict: deny(`internal error in the multinet webhook: ${errorMessage(error)}`, [], 500),
      failed: true,
      error,
    };
  }
}

/** How long the API server waits (`?timeout=10s`, as it calls webhooks); 10 s when it does not say. */
export function reviewTimeoutMs(url: string | undefined): number {
  const match = /[?&]timeout=(\d+)(ms|s|m)?(?:&|$)/.exec(url ?? '');
  if (!match) return 10_000;
  const value = Number(match[1]);
  const unit = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000;
  return Math.min(value * unit, 30_000);
}

/** The review's signal, made on first use; dispose() when answered. */
class ReviewDeadline implements ReviewContext {
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private onClose: (() => void) | undefined;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.req = req;
    this.res = res;
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    this.timer = setTimeout(
      () => controller.abort(new Error('the API server stopped waiting for this review')),
      reviewTimeoutMs(this.req.url),
    );
    this.onClose = () => {
      if (!this.res.writableFinished) controller.abort(new Error('the API server closed the connection'));
    };
    this.res.once('close', this.onClose);
    return controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
    if (this.onClose) this.res.off('close', this.onClose);
  }
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Reads the whole body, refusing more than `limit` bytes (declared or sent) with 413. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, `the body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(new HttpError(413, `the body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/**
 * The handler of one validating endpoint: content-type check, a bounded JSON body, the review.
 * (A plain read and JSON.parse: this is the hot path.) `resource` names the endpoint in metrics when the body is unusable.
 */
export function admissionEndpoint(
  resource: string,
  validator: ReviewValidator,
  options: AdapterOptions,
): RequestListener {
  const { log, metrics } = options;
  const invalid = metrics.reviews.labels({ resource, operation: 'unknown', verdict: 'invalid' });
  const reject = (res: ServerResponse, status: number, message: string, start: number): void => {
    invalid.inc();
    metrics.latency.observe({ resource }, elapsedSeconds(start));
    log.warn('rejected a request that is not an AdmissionReview', {
      endpoint: resource,
      status,
      reason: message,
    });
    // After a refused body the rest of it may still be arriving: close the connection rather than read it.
    sendJson(
      res,
      status,
      { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, message },
      status === 413,
    );
  };

  return (req, res) => {
    const start = performance.now();
    if (!isJson(req.headers['content-type'])) {
      reject(
        res,
        415,
        `Content-Type must be application/json (got ${JSON.stringify(req.headers['content-type'] ?? '')})`,
        start,
      );
      req.resume();
      return;
    }
    readBody(req, options.maxBodyBytes)
      .then(async (raw) => {
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (err) {
          throw new HttpError(400, `the body is not valid JSON: ${errorMessage(err)}`);
        }
        const problem = admissionReviewError(body);
        if (problem) throw new HttpError(400, `not an AdmissionReview: ${problem}`);
        const request = (body as AdmissionReview).request;
        const review = new ReviewDeadline(req, res);
        const { verdict, failed, error } = await runValidator(validator, request, review).finally(() =>
          review.dispose(),
        );
        const outcome: ReviewOutcome = failed ? 'error' : verdict.allowed ? 'allowed' : 'denied';
        sendJson(res, 200, reviewResponse(request.uid, verdict));
        const seconds = elapsedSeconds(start);
        const resourceLabel = resourceName(request.resource);
        metrics.reviews.inc({ resource: resourceLabel, operation: request.operation, verdict: outcome });
        metrics.latency.observe({ resource: resourceLabel }, seconds);
        if (outcome === 'error') {
          log.error('validator failed', { ...describe(request), error: errorMessage(error) });
        } else if (outcome === 'denied') {
          log.info('denied', { ...describe(request), reason: verdict.message, ms: seconds * 1000 });
        } else if (log.isDebugEnabled()) {
          log.debug('allowed', {
            ...describe(request),
            warnings: verdict.warnings.length,
            ms: seconds * 1000,
          });
        }
      })
      .catch((err: unknown) => {
        if (res.headersSent) return;
        if (err instanceof HttpError) reject(res, err.status, err.message, start);
        else reject(res, 400, `could not read the request: ${errorMessage(err)}`, start);
      });
  };
}

function describe(request: AdmissionRequest): Record<string, unknown> {
  return {
    uid: request.uid,
    resource: resourceName(request.resource),
    operation: request.operation,
    namespace: request.namespace,
    name: request.name,
    user: request.userInfo?.username,
    ...(request.dryRun ? { dryRun: true } : {}),
  };
}
