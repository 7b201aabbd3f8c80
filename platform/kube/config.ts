/**
 * Kubernetes client configuration for every component: a kubeconfig file when one is given, else the
 * in-cluster ServiceAccount. In-cluster, the client re-reads the projected token file (bound tokens
 * expire; Multus' thin plugin broke on a copied token), so no token is ever written to disk.
 */
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigSource {
  /** Path of a kubeconfig file; in-cluster configuration when undefined. */
  readonly kubeconfig?: string | undefined;
}

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
  else kc.loadFromCluster();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      source.kubeconfig
        ? `kubeconfig ${source.kubeconfig} has no current cluster`
        : 'not running in a cluster and no --kubeconfig given',
    );
  }
  return kc;
}
