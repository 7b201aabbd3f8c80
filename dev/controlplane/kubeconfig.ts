/** Kubeconfig files for the test control plane: one cluster, one user (client certificate or token). */
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';

export type KubeconfigCredentials =
  { readonly clientCertPem: string; readonly clientKeyPem: string } | { readonly token: string };

export interface KubeconfigSpec {
  readonly server: string;
  readonly caPem: string;
  /** Names the cluster, user and context. */
  readonly name: string;
  readonly user: string;
  readonly credentials: KubeconfigCredentials;
  readonly namespace?: string;
}

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** Renders a self-contained kubeconfig (certificates embedded) as YAML. */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const user =
    'token' in spec.credentials
      ? { token: spec.credentials.token }
      : {
          'client-certificate-data': base64(spec.credentials.clientCertPem),
          'client-key-data': base64(spec.credentials.clientKeyPem),
        };
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: spec.name, cluster: { server: spec.server, 'certificate-authority-data': base64(spec.caPem) } },
    ],
    users: [{ name: spec.user, user }],
    contexts: [
      {
        name: spec.name,
        context: {
          cluster: spec.name,
          user: spec.user,
          ...(spec.namespace ? { namespace: spec.namespace } : {}),
        },
      },
    ],
    'current-context': spec.name,
    preferences: {},
  });
}

export function kubeConfigFromYaml(text: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}

/** The server URL and CA of a kubeconfig's current cluster. */
export function clusterOf(kc: KubeConfig): { server: string; caPem: string } {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const caPem = cluster.caData
    ? Buffer.from(cluster.caData, 'base64').toString('utf8')
    : cluster.caFile
      ? readFileSync(cluster.caFile, 'utf8')
      : undefined;
  if (!caPem) throw new Error(`cluster ${cluster.name} has no certificate-authority(-data)`);
  return { server: cluster.server, caPem };
}
