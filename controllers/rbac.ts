/**
 * The permissions the controller needs, as RBAC PolicyRules: a ClusterRole for what it reads and
 * writes across the cluster, and a Role in the Lease's namespace for leader election. The controller's
 * process test runs it under a ServiceAccount with exactly these rules; the chart grants the same.
 */
export interface PolicyRule {
  readonly apiGroups: string[];
  readonly resources: string[];
  readonly verbs: string[];
}

export const controllerClusterRules: readonly PolicyRule[] = [
  {
    apiGroups: ['k8s.cni.cncf.io'],
    resources: ['network-attachment-definitions'],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: ['k8s.cni.cncf.io'],
    resources: ['network-attachment-definitions/status'],
    verbs: ['get', 'patch'],
  },
  // patch: the stale mark (a label) on the report of a node whose agent stopped reporting.
  { apiGroups: ['multinet.io'], resources: ['nodenetworkstates'], verbs: ['get', 'list', 'watch', 'patch'] },
  // The extended resources nodes advertise (device networks' resourceName).
  { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** In the Lease's namespace, with --leader-elect. */
export const controllerLeaseRules: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];
