/** Free loopback ports and readiness polling for the control plane's servers. */
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import type { ServerProcess } from './server-process.ts';

/** A client certificate, its key and the CA to trust, as PEM text. */
export interface TlsClient {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export { freeLoopbackPort as freePort } from '../../platform/nodejs/listen.ts';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** GET over HTTPS with a client certificate: status and body, or an Error for network failures. */
export function httpsGet(
  url: string,
  tls: TlsClient,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function httpGetStatus(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Polls `probe` until it returns true; fails early when one of `servers` exits, or at `deadline`. */
export async function waitUntil(
  what: string,
  probe: () => Promise<{ ok: boolean; detail: string }>,
  servers: readonly ServerProcess[],
  deadline: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  let last: string;
  for (;;) {
    signal?.throwIfAborted();
    for (const server of servers) {
      if (server.hasExited()) {
        throw new Error(`${server.name} ${await server.exited} while waiting for ${what}`);
      }
    }
    try {
      const { ok, detail } = await probe();
      if (ok) return;
      last = detail;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} was not ready within ${timeoutMs} ms (last answer: ${last})`);
    }
    await sleep(150);
  }
}
