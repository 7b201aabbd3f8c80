/** Chart values the chart tests render with: cert-manager mode, and every option set to a non-default. */

export const certManager = { webhook: { certs: { mode: 'cert-manager' } } };
/** Every option set to something other than its default. */
export const everything = {
  logLevel: 'debug',
  logFormat: 'text',
  commonLabels: { team: 'net' },
  imagePullSecrets: [{ name: 'regcred' }],
  image: { repository: 'registry.example/multinet', tag: '9.9.9', pullPolicy: 'Always' },
  networks: {
    clusterNetwork: 'kube-system/calico',
    defaultNetworks: ['kube-system/storage'],
    namespaceIsolation: true,
    globalNamespaces: ['shared'],
    systemNamespaces: ['kube-system', 'infra'],
    readinessIndicatorFile: '/etc/cni/net.d/10-calico.conflist',
    readinessTimeoutSeconds: 90,
  },
  controller: {
    replicas: 3,
    namespaces: ['apps', 'db'],
    nodeStateSelector: 'multinet.io/pool=a',
    workers: 4,
    extraArgs: ['--stale-after=240'],
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'controller' } },
      },
    ],
  },
  webhook: {
    failurePolicy: 'Ignore',
    timeoutSeconds: 5,
    injectResources: true,
    injectDownwardApi: true,
    excludedNamespaces: ['monitoring'],
    objectSelector: { matchLabels: { 'multinet.io/team': 'net' } },
    podDisruptionBudget: { minAvailable: '50%' },
    tolerations: [{ key: 'infra', operator: 'Exists', effect: 'NoSchedule' }],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['infra'] }] }],
        },
      },
    },
  },
  agent: {
    cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
    cniBinDir: '/var/lib/rancher/k3s/data/cni',
    maxParallel: 16,
    podResourcesDir: '/var/lib/k0s/kubelet/pod-resources',
    deviceInfoDir: '/run/k8s.cni.cncf.io/devinfo',
    extraVolumes: [{ name: 'calico', hostPath: { path: '/var/lib/calico', type: 'Directory' } }],
    extraVolumeMounts: [{ name: 'calico', mountPath: '/var/lib/calico', readOnly: true }],
  },
};
