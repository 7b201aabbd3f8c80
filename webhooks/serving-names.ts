/** The names a serving certificate must carry for a webhook target: a Service's DNS names, or the URL's host. */
import { isIP } from 'node:net';
import type { WebhookTarget } from './webhook-configuration.ts';

export interface ServingNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

export function hostNames(host: string): ServingNames {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) !== 0 ? { dnsNames: [], ipAddresses: [bare] } : { dnsNames: [bare], ipAddresses: [] };
}

export function servingNames(target: WebhookTarget): ServingNames {
  if ('url' in target) return hostNames(new URL(target.url).hostname);
  const { name, namespace } = target.service;
  return {
    dnsNames: [
      name,
      `${name}.${namespace}`,
      `${name}.${namespace}.svc`,
      `${name}.${namespace}.svc.cluster.local`,
    ],
    ipAddresses: [],
  };
}

/** Parses "host:port" ("[::1]:8443" for IPv6); port 0 picks a free port. */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535)
    throw new Error(`${JSON.stringify(value)} is not ADDRESS:PORT (e.g. 127.0.0.1:8443 or [::1]:8443)`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** An https URL for host and port, bracketing IPv6. */
export function httpsUrl(host: string, port: number): string {
  return `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
