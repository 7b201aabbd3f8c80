/** The webhook's Prometheus metrics, on a registry of its own (several webhooks may run in one process in tests). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReviewOutcome = 'allowed' | 'denied' | 'error' | 'invalid';

export interface WebhookMetrics {
  readonly registry: Registry;
  /** Reviews answered, by resource, operation and verdict (allowed, denied, error, invalid). */
  readonly reviews: Counter<'resource' | 'operation' | 'verdict'>;
  /** Time from the request's arrival to the response, by resource. */
  readonly latency: Histogram<'resource'>;
  /** notAfter of the serving certificate in use, Unix seconds. */
  readonly certificateExpiry: Gauge;
  /** Serving certificates loaded (the first one and every rotation). */
  readonly certificateLoads: Counter;
  /** NADs read from the API server after a cache miss. */
  readonly cacheMissReads: Counter;
}

export function createWebhookMetrics(registry: Registry = new Registry()): WebhookMetrics {
  return {
    registry,
    reviews: new Counter({
      name: 'multinet_webhook_reviews_total',
      help: 'AdmissionReviews answered, by resource, operation and verdict',
      labelNames: ['resource', 'operation', 'verdict'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'multinet_webhook_review_duration_seconds',
      help: 'Time to answer an AdmissionReview, from the request to the response',
      labelNames: ['resource'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    certificateExpiry: new Gauge({
      name: 'multinet_webhook_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in use, as a Unix timestamp',
      registers: [registry],
    }),
    certificateLoads: new Counter({
      name: 'multinet_webhook_certificate_loads_total',
      help: 'Serving certificates loaded into the TLS server (the first one and each rotation)',
      registers: [registry],
    }),
    cacheMissReads: new Counter({
      name: 'multinet_webhook_nad_cache_miss_reads_total',
      help: 'NetworkAttachmentDefinitions read from the API server because the informer cache lacked them',
      registers: [registry],
    }),
  };
}
