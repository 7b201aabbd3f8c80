/**
 * The webhook's HTTPS server: TLS 1.2 or later, and certificates swapped without a restart
 * (setSecureContext: new connections get the new certificate, open ones finish on the old, so no request
 * is dropped). Idle keep-alive connections are kept longer than the API server's client keeps them, so
 * the server never closes a connection the client is about to reuse.
 */
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import { closeServer } from '../platform/nodejs/listen.ts';
import type { ServingCertificate } from './certs/serving-cert.ts';

const minTlsVersion = 'TLSv1.2';

export interface HttpsServerOptions {
  /** Default 120 s: above Go's 90 s idle-connection timeout that the API server's client uses. */
  readonly keepAliveTimeoutMs?: number;
  /** A request (headers and body) must arrive within this time. Default 30 s. */
  readonly requestTimeoutMs?: number;
}

function secureContext(cert: ServingCertificate): SecureContextOptions {
  return { cert: cert.certPem, key: cert.keyPem, minVersion: minTlsVersion };
}

export class ReloadingHttpsServer {
  readonly server: Server;
  private loads = 0;

  constructor(handler: RequestListener, cert: ServingCertificate, options: HttpsServerOptions = {}) {
    this.server = createServer(secureContext(cert), handler);
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 120_000;
    this.server.requestTimeout = options.requestTimeoutMs ?? 30_000;
    this.server.headersTimeout = Math.min(this.server.requestTimeout, 20_000);
    this.loads = 1;
  }

  /** Serves `cert` to every connection from now on. Throws (keeping the old one) when the pair is unusable. */
  load(cert: ServingCertificate): void {
    this.server.setSecureContext(secureContext(cert));
    this.loads++;
  }

  get certificateLoads(): number {
    return this.loads;
  }

  /** Stops accepting, lets requests in flight finish for up to graceMs, then closes what is left. */
  async close(graceMs = 5000): Promise<void> {
    const closed = closeServer(this.server);
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}
