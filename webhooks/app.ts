/**
 * The webhook's HTTP application: one validating endpoint per resource, plus /healthz, /readyz and
 * /metrics (the same handler the probe port serves) and a JSON 404, in an express app. The two
 * review endpoints, which take every pod and NAD write of the cluster, are matched first by exact
 * method and path, before express's router: that is the hot path, and it needs no routing.
 * Transport-agnostic: https-server.ts serves it.
 */
import type { RequestListener } from 'node:http';
import express from 'express';
import type { Logger } from 'winston';
import { createProbeHandler, type ProbeChecks } from '../platform/nodejs/probe-server.ts';
import type { WebhookMetrics } from './metrics.ts';
import { admissionEndpoint, type ReviewValidator } from './review-adapter.ts';
import { webhookPaths } from './webhook-configuration.ts';

export interface WebhookAppOptions {
  readonly validators: { readonly nads: ReviewValidator; readonly pods: ReviewValidator };
  readonly log: Logger;
  readonly metrics: WebhookMetrics;
  readonly probes: ProbeChecks;
  readonly maxBodyBytes: number;
}

export function createWebhookApp(options: WebhookAppOptions): RequestListener {
  const adapter = { log: options.log, metrics: options.metrics, maxBodyBytes: options.maxBodyBytes };
  const endpoints = new Map<string, RequestListener>([
    [
      webhookPaths.nads,
      admissionEndpoint('network-attachment-definitions', options.validators.nads, adapter),
    ],
    [webhookPaths.pods, admissionEndpoint('pods', options.validators.pods, adapter)],
  ]);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const [path, endpoint] of endpoints) app.post(path, (req, res) => endpoint(req, res));
  const probes = createProbeHandler(options.probes);
  app.get(['/healthz', '/readyz', '/metrics'], (req, res) => probes(req, res));
  app.use((_req, res) => {
    res
      .status(404)
      .json({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, message: 'not found' });
  });
  return (req, res) => {
    // The API server calls `<path>?timeout=10s`.
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const endpoint = req.method === 'POST' ? endpoints.get(query < 0 ? url : url.slice(0, query)) : undefined;
    if (endpoint) endpoint(req, res);
    else void app(req, res);
  };
}
