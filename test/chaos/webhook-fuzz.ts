/**
 * AdmissionReviews as a broken or hostile API server client could make them reach the webhook: the
 * admission fixtures with random parts of their pods and NADs replaced (annotations with JSON that is
 * almost right, wrong types, huge and deeply nested values), and bodies that are no AdmissionReview.
 * Through the webhook's real HTTP application on in-memory requests: every AdmissionReview gets an
 * AdmissionReview back with its uid and a verdict (else it is `invalid`), everything else a Status
 * error, and nothing throws (a `crash`) or goes unanswered (a `hang`).
 */
import { readdirSync } from 'node:fs';
import winston from 'winston';
import { parseManifests } from '../../lib/k8s/manifests.ts';
import type { NadObject } from '../../platform/kube/informers.ts';
import { admissionReviewError } from '../../webhooks/admission-review.ts';
import { createWebhookApp } from '../../webhooks/app.ts';
import { createWebhookMetrics } from '../../webhooks/metrics.ts';
import { NadCatalog } from '../../webhooks/nad-catalog.ts';
import { validateNadReview } from '../../webhooks/nad.validator.ts';
import { NodeStateIndex } from '../../webhooks/node-report.ts';
import { defaultPodPolicy } from '../../webhooks/pod.validator.ts';
import { defaultMaxBodyBytes } from '../../webhooks/review-adapter.ts';
import { webhookPaths } from '../../webhooks/webhook-configuration.ts';
import { podReviewer } from '../../webhooks/webhook.ts';
import { callHandler } from '../doubles/memory-http.ts';
import { StaticNadSource } from '../doubles/static-nad-source.ts';
import { fixturePath, readFixture } from '../fixtures.ts';
import type { Random } from './random.ts';
import { inBatches, note, tally, within, type Tally } from './tally.ts';

const silent = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The fixtures' AdmissionReviews (the pod or NAD they name in objectFile put in). */
function corpus(): Json[] {
  const reviews: Json[] = [];
  for (const file of readdirSync(fixturePath('admission')).filter((f) => f.endsWith('.json'))) {
    const fixture = JSON.parse(readFixture('admission', file)) as {
      objectFile?: string;
      review: { request: Record<string, Json> };
    };
    if (fixture.objectFile) {
      const text = fixture.objectFile.startsWith('../seed/')
        ? readFixture('seed', fixture.objectFile.slice('../seed/'.length))
        : readFixture('admission', fixture.objectFile);
      fixture.review.request.object = parseManifests(text)[0]!.object;
    }
    reviews.push(fixture.review);
  }
  return reviews;
}

function world(): NadCatalog {
  const source = new StaticNadSource();
  for (const text of [
    readFixture('seed', 'macvlan-conf.nad.yaml'),
    readFixture('admission', 'world', 'base.yaml'),
  ]) {
    for (const doc of parseManifests(text)) {
      const object = doc.object as unknown as NadObject;
      if (object.kind === 'NetworkAttachmentDefinition') {
        source.put({ ...object, metadata: { namespace: 'default', ...object.metadata } });
      }
    }
  }
  return new NadCatalog(source);
}

const nasty: Json[] = [
  null,
  '',
  '[',
  '{"name":',
  '[{"name":"macvlan-conf","interface":"../../x"}]',
  '[{"name":"macvlan-conf","ips":["::1/200"],"mac":"zz"}]',
  'macvlan-conf@eth0,macvlan-conf@eth0',
  'a/b/c',
  '../../etc/passwd',
  '{"cniVersion":"1.0.0","type":"../../bin/sh"}',
  '{"cniVersion":"1.0.0","plugins":[{"type":"bridge","ipam":{"type":"host-local","subnet":"300.1.1.1/99"}}]}',
  'x'.repeat(100_000),
  -1,
  1e308,
  true,
  [],
  {},
];

function junk(r: Random): Json {
  if (r.chance(0.5)) return r.pick(nasty);
  if (r.chance(0.3)) {
    let v: Json = 'deep';
    for (let i = 1 + r.int(300); i > 0; i--) v = r.chance(0.5) ? [v] : { k: v };
    return v;
  }
  return r.string('abc,@/[]{}":\\\u0000é', 60);
}

/** Every value in `value` with the path to it, for picking one to replace. */
function paths(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function replaced(value: Json, path: Array<string | number>, by: Json): Json {
  if (path.length === 0) return by;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replaced(v, rest, by) : v));
  if (value && typeof value === 'object')
    return { ...value, [head!]: replaced(value[head as string]!, rest, by) };
  return value;
}

const annotationKeys = [
  'k8s.v1.cni.cncf.io/networks',
  'v1.multus-cni.io/default-network',
  'k8s.v1.cni.cncf.io/network-status',
];

/** One body: a fixture review with one to four parts replaced, or (rarely) something else entirely. */
export function fuzzedReview(r: Random, reviews: readonly Json[]): { body: string; path: string } {
  let review = r.pick(reviews);
  const path = r.chance(0.5) ? webhookPaths.pods : webhookPaths.nads;
  const roll = r.int(100);
  if (roll < 2) return { body: r.string('{}[]":,a1', 80), path };
  for (let n = 1 + r.int(4); n > 0; n--) {
    if (r.chance(0.4)) {
      // The parts the validators read most: the annotations and the NAD's spec.config.
      const object = ['request', 'object'];
      review = r.chance(0.5)
        ? replaced(review, [...object, 'metadata', 'annotations', r.pick(annotationKeys)], junk(r))
        : replaced(review, [...object, 'spec', 'config'], junk(r));
    } else {
      const all = paths(review);
      // Mostly below request.object: the envelope is what the API server itself guarantees.
      const inside = all.filter((p) => p[0] === 'request' && p[1] === 'object');
      review = replaced(review, r.pick(r.chance(0.85) && inside.length > 0 ? inside : all), junk(r));
    }
  }
  return { body: JSON.stringify(review), path: `${path}?timeout=10s` };
}

/** What is wrong with the webhook's answer to body, or undefined. */
export function reviewAnswerProblem(body: string, status: number, text: string): string | undefined {
  let sent: unknown;
  try {
    sent = JSON.parse(body);
  } catch {
    sent = undefined;
  }
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `HTTP ${status}, not JSON: ${text.slice(0, 120)}`;
  }
  if (sent === undefined || admissionReviewError(sent) !== undefined) {
    return status >= 400 && status < 500 && answer.kind === 'Status' && typeof answer.message === 'string'
      ? undefined
      : `no Status error for a body that is no AdmissionReview: HTTP ${status} ${text.slice(0, 120)}`;
  }
  const uid = (sent as { request: { uid: string } }).request.uid;
  const response = answer.response as Record<string, unknown> | undefined;
  const denial = response?.status as { code?: unknown; message?: unknown } | undefined;
  const warnings = response?.warnings;
  const valid =
    status === 200 &&
    answer.apiVersion === 'admission.k8s.io/v1' &&
    answer.kind === 'AdmissionReview' &&
    response?.uid === uid &&
    typeof response.allowed === 'boolean' &&
    (response.allowed || (Number.isInteger(denial?.code) && typeof denial?.message === 'string')) &&
    (warnings === undefined || (Array.isArray(warnings) && warnings.every((w) => typeof w === 'string')));
  return valid ? undefined : `not a valid AdmissionReview answer: HTTP ${status} ${text.slice(0, 200)}`;
}

/** `count` fuzzed reviews through the webhook's HTTP application, `parallel` at a time. */
export async function fuzzWebhook(
  r: Random,
  count: number,
  parallel = 32,
): Promise<Tally & { readonly verdicts: Record<string, number>; readonly invalid: number }> {
  const out = tally();
  let invalid = 0;
  const verdicts: Record<string, number> = {};
  const catalog = world();
  const nodes = new NodeStateIndex(() => []);
  const metrics = createWebhookMetrics();
  const app = createWebhookApp({
    validators: {
      nads: (request) => validateNadReview(request, { nads: catalog, nodes }),
      pods: podReviewer({ nads: catalog, nodes, policy: defaultPodPolicy }, undefined),
    },
    log: silent,
    metrics,
    probes: { ready: {}, registry: metrics.registry },
    maxBodyBytes: defaultMaxBodyBytes,
  });
  const reviews = corpus();
  const send = async (): Promise<void> => {
    const { body, path } = fuzzedReview(r, reviews);
    out.requests++;
    let answer;
    try {
      answer = await within(
        callHandler(app, 'POST', path, body, 'application/json'),
        30_000,
        () => undefined,
      );
    } catch (err) {
      return note(out, 'crashes', `the webhook threw: ${String(err)}`);
    }
    if (!answer) return note(out, 'hangs', `no answer to ${body.slice(0, 200)}`);
    const problem = reviewAnswerProblem(body, answer.status, answer.body);
    if (problem) {
      invalid++;
      if (out.problems.length < 20) out.problems.push(`invalid: ${problem} (review ${body.slice(0, 300)})`);
      return;
    }
    const response = (
      JSON.parse(answer.body) as { response?: { allowed: boolean; status?: { code: number } } }
    ).response;
    const kind = response
      ? response.allowed
        ? 'allowed'
        : `denied ${response.status?.code}`
      : `HTTP ${answer.status}`;
    verdicts[kind] = (verdicts[kind] ?? 0) + 1;
  };
  await inBatches(count, parallel, send);
  return { ...out, verdicts, invalid };
}
