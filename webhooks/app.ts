/**
 * The webhook's HTTP application, a plain node:http request listener like the probe and metrics
 * servers of every component: one validating endpoint per resource (matched by exact method and
 * path: they take every pod and NAD write of the cluster), /healthz, /readyz and /metrics (the same
 * handler the probe port serves), and a JSON 404. Transport-agnostic: https-server.ts serves it.
 */
import type { RequestListener } from 'node:http';
import type { Logger } from 'winston';
import { createProbeHandler, type ProbeChecks } from '../platform/nodejs/probe-server.ts';
import type { WebhookMetrics } from './metrics.ts';
import { validateClaim } from './claim.validator.ts';
import { admissionEndpoint, type ReviewValidator } from './review-adapter.ts';
import { webhookPaths } from './webhook-configuration.ts';

export interface WebhookAppOptions {
  readonly validators: {
    readonly nads: ReviewValidator;
    readonly pods: ReviewValidator;
    /** The resource injector (mutating), when it is on. */
    readonly injectPods?: ReviewValidator | undefined;
  };
  readonly log: Logger;
  readonly metrics: WebhookMetrics;
  readonly probes: ProbeChecks;
  readonly maxBodyBytes: number;
}

const probePaths = new Set(['/healthz', '/readyz', '/metrics']);
const notFound = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code: 404,
  message: 'not found',
});

export function createWebhookApp(options: WebhookAppOptions): RequestListener {
  const adapter = { log: options.log, metrics: options.metrics, maxBodyBytes: options.maxBodyBytes };
  const endpoints = new Map<string, RequestListener>([
    [
      webhookPaths.nads,
      admissionEndpoint('network-attachment-definitions', options.validators.nads, adapter),
    ],
    [webhookPaths.pods, admissionEndpoint('pods', options.validators.pods, adapter)],
    [webhookPaths.claims, admissionEndpoint('resourceclaims', validateClaim, adapter)],
  ]);
  const inject = options.validators.injectPods;
  if (inject) endpoints.set(webhookPaths.injectPods, admissionEndpoint('pods', inject, adapter));
  const probes = createProbeHandler(options.probes);
  return (req, res) => {
    // The API server calls `<path>?timeout=10s`.
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const endpoint = req.method === 'POST' ? endpoints.get(path) : undefined;
    if (endpoint) return endpoint(req, res);
    if (req.method === 'GET' && probePaths.has(path)) return probes(req, res);
    req.resume();
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(notFound) });
    res.end(notFound);
  };
}
