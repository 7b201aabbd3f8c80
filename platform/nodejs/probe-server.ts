/**
 * The health, readiness and metrics endpoints every long-running component serves (on its own port):
 * GET /healthz, GET /readyz (503 with the failing checks until ready), GET /metrics (Prometheus).
 */
import type { RequestListener } from 'node:http';
import type { Registry } from 'prom-client';

export interface ProbeChecks {
  /** Named readiness checks; /readyz is 200 only when all pass. */
  readonly ready: Readonly<Record<string, () => boolean>>;
  /** Named liveness checks; /healthz is 200 only when all pass. */
  readonly live?: Readonly<Record<string, () => boolean>>;
  readonly registry: Registry;
}

export function createProbeHandler(checks: ProbeChecks): RequestListener {
  const run = (set: Readonly<Record<string, () => boolean>> | undefined): string[] =>
    Object.entries(set ?? {})
      .filter(([, check]) => !check())
      .map(([name]) => name);
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const failing = run(path === '/healthz' ? checks.live : checks.ready);
      res.writeHead(failing.length === 0 ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(failing.length === 0 ? 'ok\n' : `not ready: ${failing.join(', ')}\n`);
      return;
    }
    if (path === '/metrics') {
      checks.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': checks.registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      return;
    }
    res.writeHead(404).end();
  };
}
