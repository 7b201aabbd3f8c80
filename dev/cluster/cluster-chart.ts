/**
 * The multi-node cluster as the chart sees it (dev/node/multinet-chart.ts): its nodes keep their CNI and
 * agent dirs where the chart's defaults say (each in its own mount namespace), so only the image and
 * the way to the API server are set.
 */
import type { ChartTarget } from '../node/multinet-chart.ts';
import type { KubeCluster } from './kube-cluster.ts';

/** The chart's defaults for the agent's dirs, as every node of the cluster has them. */
export const agentDirs = { stateDir: '/var/lib/multinet', socketDir: '/run/multinet' } as const;

export function clusterChartTarget(cluster: KubeCluster): ChartTarget {
  return {
    images: cluster.images,
    apiGateway: cluster.apiGateway,
    workDir: cluster.dir,
    adminKubeconfigPath: cluster.adminKubeconfigPath,
    helmPath: cluster.helmPath,
    values: {},
    ...agentDirs,
    generatedConfigs: cluster.nodes.map((n) => n.hostPath('/etc/cni/net.d/00-multinet.conflist')),
    kubeConfig: () => cluster.kubeConfig(),
    kubectl: (args, stdin) => cluster.kubectl(args, stdin),
  };
}
