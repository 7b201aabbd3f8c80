/** The AdmissionReview adapter over a real HTTP server on loopback: status codes, uid echo, errors, metrics. */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { createWebhookApp } from './app.ts';
import { maxWarnings, reviewResponse } from './admission-review.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';
import type { ReviewValidator } from './review-adapter.ts';
import { allow, deny } from './verdict.ts';
import { webhookPaths } from './webhook-configuration.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });

let server: Server;
let base: string;
let metrics: WebhookMetrics;
let ready = true;

const pods: ReviewValidator = (request, review) => {
  const object = request.object as { metadata?: { name?: string } };
  if (object.metadata?.name === 'boom') throw new Error('the validator broke');
  if (object.metadata?.name === 'waits') {
    // Waits for something that never comes: only the review's signal ends the wait.
    return new Promise((resolve) =>
      review.signal.addEventListener(
        'abort',
        () => resolve(deny(`gave up: ${String(review.signal.reason)}`)),
        {
          once: true,
        },
      ),
    );
  }
  if (object.metadata?.name === 'bad') return deny('networks[0] "default/x": not here', ['careful']);
  return Promise.resolve(allow(['a warning']));
};

beforeAll(async () => {
  metrics = createWebhookMetrics();
  const app = createWebhookApp({
    validators: { nads: () => allow(), pods },
    log,
    metrics,
    probes: { ready: { cache: () => ready }, registry: metrics.registry },
    maxBodyBytes: 64 * 1024,
  });
  server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

function review(name: string, uid = 'uid-1'): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      name,
      operation: 'CREATE',
      object: { metadata: { name } },
    },
  };
}

async function post(
  body: string | object,
  contentType = 'application/json',
  path: string = webhookPaths.pods,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('an allowed review echoes the uid and carries the warnings', async () => {
  const { status, json } = await post(review('good', 'f00-1'));
  expect(status).toBe(200);
  expect(json).toEqual({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'f00-1', allowed: true, warnings: ['a warning'] },
  });
});

test('a denial carries code 403 and the message', async () => {
  const { json } = await post(review('bad', 'f00-2'));
  expect(json.response).toEqual({
    uid: 'f00-2',
    allowed: false,
    status: { code: 403, reason: 'Forbidden', message: 'networks[0] "default/x": not here' },
    warnings: ['careful'],
  });
});

test('a validator that throws gives a denied response with code 500, not a failed request', async () => {
  const { status, json } = await post(review('boom', 'f00-3'));
  expect(status).toBe(200);
  expect(json.response).toEqual({
    uid: 'f00-3',
    allowed: false,
    status: { code: 500, message: 'internal error in the multinet webhook: the validator broke' },
  });
});

test('a Content-Type other than application/json is refused with 415', async () => {
  const { status, json } = await post(JSON.stringify(review('good')), 'text/plain');
  expect(status).toBe(415);
  expect(json.message).toMatch(/Content-Type must be application\/json/);
  expect((await post(review('good'), 'application/json; charset=utf-8')).status).toBe(200);
});

test('a body above the limit is refused with 413', async () => {
  const big = review('good') as { request: { object: Record<string, unknown> } };
  big.request.object.padding = 'x'.repeat(70 * 1024);
  const { status, json } = await post(big);
  expect(status).toBe(413);
  expect(json.message).toBe('the body is larger than 65536 bytes');
});

test('bodies that are not AdmissionReviews are refused with 400', async () => {
  expect((await post('{"apiVersion": ')).status).toBe(400);
  const notReview = await post({ apiVersion: 'v1', kind: 'Pod' });
  expect(notReview.status).toBe(400);
  expect(notReview.json.message).toBe(
    'not an AdmissionReview: expected apiVersion admission.k8s.io/v1 kind AdmissionReview, got apiVersion "v1" kind "Pod"',
  );
  const noUid = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} });
  expect(noUid.json.message).toBe('not an AdmissionReview: request.uid is missing');
});

test('reviews are counted by resource, operation and verdict, and timed', async () => {
  const text = await metrics.registry.metrics();
  expect(text).toMatch(
    /multinet_webhook_reviews_total\{resource="pods",operation="CREATE",verdict="allowed"\} [1-9]/,
  );
  expect(text).toMatch(
    /multinet_webhook_reviews_total\{resource="pods",operation="CREATE",verdict="denied"\} 1/,
  );
  expect(text).toMatch(
    /multinet_webhook_reviews_total\{resource="pods",operation="CREATE",verdict="error"\} 1/,
  );
  expect(text).toMatch(
    /multinet_webhook_reviews_total\{resource="pods",operation="unknown",verdict="invalid"\} [1-9]/,
  );
  expect(text).toMatch(/multinet_webhook_review_duration_seconds_count\{resource="pods"\} [1-9]/);
});

test('/readyz follows the readiness checks; /healthz and /metrics answer', async () => {
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  ready = false;
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(503);
  expect(await res.text()).toBe('not ready: cache\n');
  ready = true;
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect((await fetch(`${base}/metrics`)).headers.get('content-type')).toMatch(/text\/plain/);
  expect((await fetch(`${base}/nothing`)).status).toBe(404);
});

test('warnings are capped in number and length', () => {
  const many = Array.from({ length: 40 }, (_, i) => `${i} ${'w'.repeat(600)}`);
  const warnings = reviewResponse('u', allow(many)).response.warnings!;
  expect(warnings).toHaveLength(maxWarnings);
  expect(warnings[0]!.length).toBe(512);
  expect(warnings[maxWarnings - 1]).toBe('25 more warnings not shown');
});

test("the API server's ?timeout= query does not change the endpoint", async () => {
  expect((await post(review('good'), 'application/json', `${webhookPaths.pods}?timeout=10s`)).status).toBe(
    200,
  );
  const { status } = await post(review('good'), 'application/json', '/validate/other');
  expect(status).toBe(404);
});

test("a validator that waits is told to give up at the API server's ?timeout=", async () => {
  const { status, json } = await post(
    review('waits', 'f00-4'),
    'application/json',
    `${webhookPaths.pods}?timeout=50ms`,
  );
  expect(status).toBe(200);
  expect(json.response).toMatchObject({
    uid: 'f00-4',
    allowed: false,
    status: { message: 'gave up: Error: the API server stopped waiting for this review' },
  });
});
