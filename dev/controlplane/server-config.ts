/** The control plane's files (PKI, etcd data, logs, kubeconfig) and the command lines of its servers. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, createKeyPair, issueCertificate, type CertificateAuthority } from '../../platform/pki.ts';
import type { TlsClient } from './readiness.ts';

export const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface Layout {
  readonly dir: string;
  readonly etcdData: string;
  readonly etcdLog: string;
  readonly apiServerLog: string;
  readonly caCert: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly saPublicKey: string;
  readonly saSigningKey: string;
  /** The API server's client certificate for kubelets (exec, logs, port-forward). */
  readonly kubeletClientCert: string;
  readonly kubeletClientKey: string;
  readonly adminKubeconfig: string;
}

export function layout(dir: string): Layout {
  const pki = join(dir, 'pki');
  return {
    dir,
    etcdData: join(dir, 'etcd'),
    etcdLog: join(dir, 'etcd.log'),
    apiServerLog: join(dir, 'kube-apiserver.log'),
    caCert: join(pki, 'ca.crt'),
    servingCert: join(pki, 'apiserver.crt'),
    servingKey: join(pki, 'apiserver.key'),
    saPublicKey: join(pki, 'sa.pub'),
    saSigningKey: join(pki, 'sa.key'),
    kubeletClientCert: join(pki, 'apiserver-kubelet-client.crt'),
    kubeletClientKey: join(pki, 'apiserver-kubelet-client.key'),
    adminKubeconfig: join(dir, 'admin.kubeconfig'),
  };
}

export interface Pki {
  readonly ca: CertificateAuthority;
  readonly admin: TlsClient;
}

/** Writes the PKI; `servingIps` are more addresses clients reach the API server at (besides 127.0.0.1). */
export async function writePki(files: Layout, servingIps: readonly string[] = []): Promise<Pki> {
  await mkdir(join(files.dir, 'pki'), { mode: 0o700 });
  const ca = await createCa('multinet-test-ca', 30);
  const [serving, admin, sa, kubeletClient] = await Promise.all([
    issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', ...servingIps],
      usage: 'server',
      validityDays: 30,
    }),
    issueCertificate(ca, {
      commonName: 'multinet-admin',
      organizations: ['system:masters'],
      usage: 'client',
      validityDays: 30,
    }),
    createKeyPair(),
    issueCertificate(ca, {
      commonName: 'kube-apiserver-kubelet-client',
      organizations: ['system:masters'],
      usage: 'client',
      validityDays: 30,
    }),
  ]);
  await Promise.all([
    writeFile(files.caCert, ca.certPem, { mode: 0o644 }),
    writeFile(files.servingCert, serving.certPem, { mode: 0o644 }),
    writeFile(files.servingKey, serving.keyPem, { mode: 0o600 }),
    writeFile(files.saPublicKey, sa.publicKeyPem, { mode: 0o644 }),
    writeFile(files.saSigningKey, sa.privateKeyPem, { mode: 0o600 }),
    writeFile(files.kubeletClientCert, kubeletClient.certPem, { mode: 0o644 }),
    writeFile(files.kubeletClientKey, kubeletClient.keyPem, { mode: 0o600 }),
  ]);
  return { ca, admin: { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem } };
}

export interface Ports {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiServer: number;
}

export function etcdArgs(files: Layout, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=multinet-test',
    `--data-dir=${files.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=multinet-test=${peer}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

/**
 * What the API server is set up for. `envtest`: API objects only, as controller-runtime's envtest runs
 * it (RBAC, no ServiceAccount admission: pods need no token). `node`: a cluster with a real kubelet
 * named `localhost` (ServiceAccount admission, Node and RBAC authorization, NodeRestriction, the
 * kubelet reached by its host name with a verified serving certificate).
 */
export type ControlPlaneProfile = 'envtest' | 'node';

/**
 * Where the API server listens and what it advertises: the host's 127.0.0.1 (default), or, in the
 * multi-node cluster's underlay namespace, every address there, advertising the underlay's; kubelets are
 * then reached at their InternalIP (their names resolve nowhere) instead of the host name `localhost`.
 */
export interface ApiServerNetwork {
  readonly bindAddress: string;
  readonly advertiseAddress: string;
  readonly kubeletAddressType: 'Hostname' | 'InternalIP';
  /** Service ClusterIPs (never routed: there is no kube-proxy): a documentation range. */
  readonly serviceClusterIpRange: string;
}

/** Service ClusterIPs of the single node and envtest. */
export const serviceClusterIpRange = '203.0.113.128/25';

export const loopbackApiServer: ApiServerNetwork = {
  bindAddress: '127.0.0.1',
  advertiseAddress: '127.0.0.1',
  kubeletAddressType: 'Hostname',
  serviceClusterIpRange,
};

export function apiServerArgs(
  files: Layout,
  ports: Ports,
  extra: readonly string[],
  profile: ControlPlaneProfile = 'envtest',
  network: ApiServerNetwork = loopbackApiServer,
): string[] {
  const access =
    profile === 'node'
      ? [
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          `--kubelet-client-certificate=${files.kubeletClientCert}`,
          `--kubelet-client-key=${files.kubeletClientKey}`,
          `--kubelet-certificate-authority=${files.caCert}`,
          `--kubelet-preferred-address-types=${network.kubeletAddressType}`,
          // Webhooks and aggregated APIs are called at their Services' endpoint IPs: there is no kube-proxy.
          '--enable-aggregator-routing=true',
        ]
      : ['--authorization-mode=RBAC', '--disable-admission-plugins=ServiceAccount'];
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    `--bind-address=${network.bindAddress}`,
    `--advertise-address=${network.advertiseAddress}`,
    `--secure-port=${ports.apiServer}`,
    `--cert-dir=${join(files.dir, 'pki')}`,
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.caCert}`,
    `--service-account-issuer=${serviceAccountIssuer}`,
    `--service-account-key-file=${files.saPublicKey}`,
    `--service-account-signing-key-file=${files.saSigningKey}`,
    `--api-audiences=${serviceAccountIssuer}`,
    ...access,
    `--service-cluster-ip-range=${network.serviceClusterIpRange}`,
    // The "kubernetes" Service would get the loopback address as its endpoint, which validation rejects.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    ...extra,
  ];
}
