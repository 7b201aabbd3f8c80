/** The names a serving certificate must carry for a webhook target: a Service's DNS names, or the URL's host. */
import { isIP } from 'node:net';
import type { WebhookTarget } from './webhook-configuration.ts';

export interface ServingNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

function hostNames(host: string): ServingNames {
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

/** An https URL for host and port, bracketing IPv6. */
export function httpsUrl(host: string, port: number): string {
  return `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
