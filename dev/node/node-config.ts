/**
 * The local node's files: its layout under one run dir, the certificates its components authenticate
 * with (issued by the control plane's CA), and the configuration of containerd, the kubelet, the
 * registry mirror and the node's default network. Pure renderers plus one writer; nothing here starts
 * a process.
 */
import yaml from 'js-yaml';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueCertificate, type CertificateAuthority } from '../../platform/pki.ts';
import { renderKubeconfig } from '../controlplane/kubeconfig.ts';
import type { Layout } from '../controlplane/server-config.ts';

/** The node's name: the kubelet rejects a loopback --node-ip, so it is reached by this host name. */
export const nodeName = 'localhost';

/**
 * The node's pod network, a documentation range: the pods' bridge, whose gateway address the host holds
 * (so the API server reaches webhook pods and the kubelet probes them), no masquerading (the host's
 * iptables are left alone). The API gateway (api-gateway/) listens at an address of the subnet that IPAM
 * is told is taken.
 */
export const podNetwork = {
  name: 'podnet',
  /** What Flannel calls FLANNEL_NETWORK: the cluster's pod network. */
  clusterSubnet: '198.51.100.0/24',
  /** This node's share of it (FLANNEL_SUBNET), with its gateway. */
  subnet: '198.51.100.0/25',
  gateway: '198.51.100.1',
  prefixLength: 25,
  apiGateway: { host: '198.51.100.126', port: 6443 },
  fileName: '10-podnet.conflist',
} as const;

/** The node's default network: a plain bridge, or Flannel's plugin reading a subnet.env, as flanneld writes. */
export type DefaultNetworkKind = 'bridge' | 'flannel';

export interface NodeLayout {
  readonly dir: string;
  readonly pki: string;
  readonly logs: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly containerdConfig: string;
  readonly registryHosts: string;
  readonly kubeletRoot: string;
  readonly kubeletConfig: string;
  readonly kubeletKubeconfig: string;
  readonly controllerManagerKubeconfig: string;
  readonly schedulerKubeconfig: string;
  readonly staticPods: string;
  readonly podLogs: string;
  readonly volumePlugins: string;
  /** The CNI dirs containerd uses: configs, and binaries (multinet's shim goes into the first). */
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly ipamDir: string;
  /** Flannel's subnet.env (what flanneld would write) and its scratch dir of delegate configs. */
  readonly flannelSubnetFile: string;
  readonly flannelDataDir: string;
}

export function nodeLayout(dir: string): NodeLayout {
  const containerd = join(dir, 'containerd');
  const kubelet = join(dir, 'kubelet');
  return {
    dir,
    pki: join(dir, 'pki'),
    logs: join(dir, 'logs'),
    containerdRoot: join(containerd, 'root'),
    containerdState: join(containerd, 'state'),
    containerdSocket: join(containerd, 'containerd.sock'),
    containerdConfig: join(containerd, 'config.toml'),
    registryHosts: join(containerd, 'certs.d'),
    kubeletRoot: join(kubelet, 'root'),
    kubeletConfig: join(kubelet, 'config.yaml'),
    kubeletKubeconfig: join(kubelet, 'kubeconfig'),
    controllerManagerKubeconfig: join(dir, 'controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'scheduler.kubeconfig'),
    staticPods: join(kubelet, 'manifests'),
    podLogs: join(kubelet, 'pod-logs'),
    volumePlugins: join(kubelet, 'volume-plugins'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniBinDir: join(dir, 'cni', 'bin'),
    ipamDir: join(dir, 'cni', 'ipam'),
    flannelSubnetFile: join(dir, 'flannel', 'subnet.env'),
    flannelDataDir: join(dir, 'flannel', 'data'),
  };
}

export interface NodePorts {
  readonly kubelet: number;
  readonly kubeletHealthz: number;
  readonly controllerManager: number;
  readonly scheduler: number;
}

export interface ContainerdSettings {
  readonly layout: NodeLayout;
  readonly sandboxImage: string;
  readonly runc: string;
  /** The snapshotter: overlayfs where the kernel has it, else native. */
  readonly snapshotter: 'overlayfs' | 'native';
}

const tomlString = (value: string): string => JSON.stringify(value);
const tomlList = (values: readonly string[]): string => `[${values.map(tomlString).join(', ')}]`;

/**
 * containerd 2.x's configuration (version 4, as `containerd config default` prints it): every path under the run dir, CRI streaming on
 * 127.0.0.1, no AppArmor, no negative oom_score_adj (this machine lacks CAP_SYS_RESOURCE), cgroupfs,
 * the registry mirror's hosts.toml, and the plugins that would write to fixed host paths turned off.
 */
export function renderContainerdConfig(settings: ContainerdSettings): string {
  const { layout } = settings;
  const cri = "plugins.'io.containerd.cri.v1.runtime'";
  // containerd accepts a shim socket dir of at most 42 characters; else the fixed /run/containerd/s.
  const socketDir = join(layout.dir, 's');
  const shimSockets =
    socketDir.length <= 42
      ? `  [plugins.'io.containerd.shim.v1.manager']\n    socket_dir = ${tomlString(socketDir)}\n`
      : '';
  return `# Written by multinet's local node (dev/node): everything lives under ${layout.dir}.
version = 4
root = ${tomlString(layout.containerdRoot)}
state = ${tomlString(layout.containerdState)}
imports = []
disabled_plugins = [
  "io.containerd.nri.v1.nri",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.image-verifier.v1.bindir",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
]

[debug]
  level = "info"

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = ${tomlString(layout.containerdSocket)}

  [plugins.'io.containerd.server.v1.ttrpc']
    address = ${tomlString(`${layout.containerdSocket}.ttrpc`)}

${shimSockets}
  [plugins.'io.containerd.internal.v1.opt']
    path = ${tomlString(join(layout.containerdRoot, 'opt'))}

  [plugins.'io.containerd.transfer.v1.local']
    config_path = ${tomlString(layout.registryHosts)}

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = ${tomlString(settings.snapshotter)}
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${tomlString(settings.sandboxImage)}
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ${tomlString(layout.registryHosts)}

  [${cri}]
    enable_selinux = false
    disable_apparmor = true
    restrict_oom_score_adj = true
    tolerate_missing_hugetlb_controller = true
    [${cri}.containerd]
      default_runtime_name = "runc"
      [${cri}.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [${cri}.containerd.runtimes.runc.options]
          BinaryName = ${tomlString(settings.runc)}
          SystemdCgroup = false
    [${cri}.cni]
      bin_dirs = ${tomlList([layout.cniBinDir])}
      conf_dir = ${tomlString(layout.cniConfDir)}
      max_conf_num = 1
`;
}

const kubeconfigFlags = (file: string): string[] => [
  `--kubeconfig=${file}`,
  `--authentication-kubeconfig=${file}`,
  `--authorization-kubeconfig=${file}`,
];

export interface ControllerArgs {
  readonly kubeconfig: string;
  /** Its secure port on 127.0.0.1 (of the network namespace it runs in). */
  readonly port: number;
  /** A dir of its own run: its self-signed serving certificate goes below it. */
  readonly dir: string;
}

/** kube-controller-manager's flags: ServiceAccount tokens signed with the control plane's key, no leader election. */
export function controllerManagerArgs(
  settings: ControllerArgs & { readonly files: Pick<Layout, 'saSigningKey' | 'caCert'> },
): string[] {
  return [
    ...kubeconfigFlags(settings.kubeconfig),
    '--bind-address=127.0.0.1',
    `--secure-port=${settings.port}`,
    `--cert-dir=${join(settings.dir, 'controller-manager')}`,
    `--service-account-private-key-file=${settings.files.saSigningKey}`,
    `--root-ca-file=${settings.files.caCert}`,
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    `--flex-volume-plugin-dir=${join(settings.dir, 'flex-volumes')}`,
  ];
}

/** kube-scheduler's flags. */
export function schedulerArgs(settings: ControllerArgs): string[] {
  return [
    ...kubeconfigFlags(settings.kubeconfig),
    '--bind-address=127.0.0.1',
    `--secure-port=${settings.port}`,
    `--cert-dir=${join(settings.dir, 'scheduler')}`,
    '--leader-elect=false',
  ];
}

/** hosts.toml for one registry host name: everything it serves comes from the local registry. */
export function renderRegistryHosts(registryAddress: string): string {
  const server = `http://${registryAddress}`;
  return `# Written by multinet's local node: pulls are served by its registry on 127.0.0.1, nothing else.
server = ${tomlString(server)}

[host.${tomlString(server)}]
  capabilities = ["pull", "resolve"]
`;
}

export interface KubeletSettings {
  readonly layout: NodeLayout;
  readonly ports: Pick<NodePorts, 'kubelet' | 'kubeletHealthz'>;
  readonly cgroupRoot: string;
  /** Where the kubelet serves (default 127.0.0.1; a cluster node: its underlay address). */
  readonly address?: string;
}

/** The KubeletConfiguration (kubelet.config.k8s.io/v1beta1) of the node, as YAML. */
export function renderKubeletConfig({ layout, ports, cgroupRoot, address }: KubeletSettings): string {
  return yaml.dump({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: address ?? '127.0.0.1',
    port: ports.kubelet,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.kubeletHealthz,
    readOnlyPort: 0,
    tlsCertFile: join(layout.pki, 'kubelet.crt'),
    tlsPrivateKeyFile: join(layout.pki, 'kubelet.key'),
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: join(layout.pki, 'ca.crt') },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot,
    // kubelet >= 1.35 refuses cgroup v1 unless told otherwise.
    failCgroupV1: false,
    failSwapOn: false,
    makeIPTablesUtilChains: false,
    protectKernelDefaults: false,
    staticPodPath: layout.staticPods,
    podLogsDir: layout.podLogs,
    volumePluginDir: layout.volumePlugins,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'nodefs.inodesFree': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    clusterDNS: [],
    serializeImagePulls: false,
    resolvConf: '/etc/resolv.conf',
    // A quick response to pod changes: the sync loop and status updates.
    syncFrequency: '10s',
    nodeStatusUpdateFrequency: '5s',
    fileCheckFrequency: '5s',
  });
}

/** A default network of a bridge and host-local: the node's share of the pod network, and its routes. */
export interface BridgeNetwork {
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
  /** Destinations pods route through the gateway (the cluster's pod network, the API server's). */
  readonly routes: readonly string[];
  /** host-local's lease dir (undefined: its default, /var/lib/cni/networks). */
  readonly dataDir?: string;
}

/** The bridge plugin's config: pods on `bridge`, the node holding the gateway, no masquerading. */
export function bridgePlugin(network: BridgeNetwork): Record<string, unknown> {
  return {
    type: 'bridge',
    bridge: network.bridge,
    isGateway: true,
    ipMasq: false,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
      routes: network.routes.map((dst) => ({ dst })),
      ...(network.dataDir ? { dataDir: network.dataDir } : {}),
    },
  };
}

/** A default network's conflist, named as the node's pod network. */
export function renderConflist(plugin: Record<string, unknown>): string {
  return `${JSON.stringify({ cniVersion: '1.0.0', name: podNetwork.name, plugins: [plugin] }, null, 2)}\n`;
}

/** The node's default network's conflist. */
export function renderDefaultNetwork(kind: DefaultNetworkKind, layout: NodeLayout, bridge: string): string {
  const plugin =
    kind === 'bridge'
      ? bridgePlugin({
          bridge,
          subnet: podNetwork.subnet,
          gateway: podNetwork.gateway,
          routes: [podNetwork.clusterSubnet],
          dataDir: layout.ipamDir,
        })
      : {
          type: 'flannel',
          subnetFile: layout.flannelSubnetFile,
          dataDir: layout.flannelDataDir,
          // Flannel's delegate: a bridge (its default) on the node's bridge, without masquerading.
          delegate: { bridge, ipMasq: false, hairpinMode: true },
          ipam: { dataDir: layout.ipamDir },
        };
  return renderConflist(plugin);
}

/** What flanneld writes for the node: the cluster network, the node's subnet, its MTU. */
export function renderFlannelSubnetEnv(): string {
  return [
    `FLANNEL_NETWORK=${podNetwork.clusterSubnet}`,
    `FLANNEL_SUBNET=${podNetwork.gateway}/${podNetwork.prefixLength}`,
    'FLANNEL_MTU=1500',
    'FLANNEL_IPMASQ=false',
    '',
  ].join('\n');
}

type Issued = { certPem: string; keyPem: string };

function clientKubeconfig(ca: CertificateAuthority, apiServer: string, user: string, cert: Issued): string {
  return renderKubeconfig({
    server: apiServer,
    caPem: ca.certPem,
    name: 'multinet-node',
    user,
    credentials: { clientCertPem: cert.certPem, clientKeyPem: cert.keyPem },
  });
}

/** Who a kubelet is: its Node name and the addresses its serving certificate names. */
export interface KubeletIdentity {
  readonly name: string;
  readonly ipAddresses: readonly string[];
}

/** A kubelet's serving certificate and its client kubeconfig, signed by the control plane's CA. */
export async function writeKubeletCredentials(
  layout: Pick<NodeLayout, 'pki' | 'kubeletKubeconfig'>,
  ca: CertificateAuthority,
  apiServer: string,
  identity: KubeletIdentity = { name: nodeName, ipAddresses: ['127.0.0.1'] },
): Promise<void> {
  await mkdir(layout.pki, { recursive: true, mode: 0o700 });
  const user = `system:node:${identity.name}`;
  const [serving, client] = await Promise.all([
    issueCertificate(ca, {
      commonName: user,
      organizations: ['system:nodes'],
      dnsNames: [identity.name],
      ipAddresses: [...identity.ipAddresses],
      usage: 'server',
      validityDays: 30,
    }),
    issueCertificate(ca, {
      commonName: user,
      organizations: ['system:nodes'],
      usage: 'client',
      validityDays: 30,
    }),
  ]);
  await Promise.all([
    writeFile(join(layout.pki, 'ca.crt'), ca.certPem, { mode: 0o644 }),
    writeFile(join(layout.pki, 'kubelet.crt'), serving.certPem, { mode: 0o644 }),
    writeFile(join(layout.pki, 'kubelet.key'), serving.keyPem, { mode: 0o600 }),
    writeFile(layout.kubeletKubeconfig, clientKubeconfig(ca, apiServer, user, client), { mode: 0o600 }),
  ]);
}

/** The kubeconfigs of kube-controller-manager and kube-scheduler, signed by the control plane's CA. */
export async function writeControllerCredentials(
  files: Pick<NodeLayout, 'controllerManagerKubeconfig' | 'schedulerKubeconfig'>,
  ca: CertificateAuthority,
  apiServer: string,
): Promise<void> {
  const [controllerManager, scheduler] = await Promise.all([
    issueCertificate(ca, { commonName: 'system:kube-controller-manager', usage: 'client', validityDays: 30 }),
    issueCertificate(ca, { commonName: 'system:kube-scheduler', usage: 'client', validityDays: 30 }),
  ]);
  await Promise.all([
    writeFile(
      files.controllerManagerKubeconfig,
      clientKubeconfig(ca, apiServer, 'system:kube-controller-manager', controllerManager),
      { mode: 0o600 },
    ),
    writeFile(
      files.schedulerKubeconfig,
      clientKubeconfig(ca, apiServer, 'system:kube-scheduler', scheduler),
      { mode: 0o600 },
    ),
  ]);
}

/** The node components' certificates, signed by the control plane's CA, and their kubeconfigs. */
export async function writeNodeCredentials(
  layout: NodeLayout,
  ca: CertificateAuthority,
  apiServer: string,
): Promise<void> {
  await writeKubeletCredentials(layout, ca, apiServer);
  await writeControllerCredentials(layout, ca, apiServer);
}
