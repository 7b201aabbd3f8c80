/**
 * Cluster-wide IPAM on the multi-node cluster: whereabouts installed as its users install it, from its own
 * manifests (doc/crds of v0.9.2, built beside its binaries by dev/build.sh): its CRDs, then
 * daemonset-install.yaml, whose DaemonSet runs on every node, copies the plugin into the node's CNI bin
 * dir, writes its kubeconfig (the ServiceAccount's token, which its ClusterRole allows) and
 * whereabouts.conf into the node's conf dir, and runs the reconciler (ip-control-loop). Two changes, both
 * what an operator of a cluster like this one makes: the image is the one dev/images/build.sh builds from
 * the same binaries and scripts (no registry here), and the API server's address is given as
 * KUBERNETES_SERVICE_HOST/PORT (there is no kube-proxy, as with Cilium's k8sServiceHost).
 */
import yaml from 'js-yaml';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually } from '../eventually.ts';
import type { KubeCluster } from './kube-cluster.ts';

/** Where whereabouts' DaemonSet writes its files on every node (its install-cni.sh defaults). */
export const whereaboutsConfig = '/etc/cni/net.d/whereabouts.d/whereabouts.conf';

type Manifest = {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    template?: {
      spec?: { containers?: Array<{ image?: string; imagePullPolicy?: string; env?: unknown[] }> };
    };
  };
};

/**
 * daemonset-install.yaml as kubectl reads it (`kubectl create --dry-run=client -o yaml`: its YAML 1.1
 * reading, where `defaultMode: 0744` is octal, written back in canonical form), with this cluster's image
 * and API server address.
 */
export function adaptDaemonSetInstall(
  canonical: string,
  image: string,
  apiServer: { host: string; port: number },
): string {
  const docs = yaml.loadAll(canonical).filter((d): d is Manifest => typeof d === 'object' && d !== null);
  for (const doc of docs) {
    if (doc.kind !== 'DaemonSet') continue;
    for (const container of doc.spec?.template?.spec?.containers ?? []) {
      container.image = image;
      container.imagePullPolicy = 'IfNotPresent';
      container.env = [
        ...(container.env ?? []),
        { name: 'KUBERNETES_SERVICE_HOST', value: apiServer.host },
        { name: 'KUBERNETES_SERVICE_PORT', value: String(apiServer.port) },
      ];
    }
  }
  if (!docs.some((d) => d.kind === 'DaemonSet'))
    throw new Error('daemonset-install.yaml holds no DaemonSet: not the whereabouts manifest this expects');
  return docs.map((d) => yaml.dump(d)).join('---\n');
}

/** Installs whereabouts and resolves once its DaemonSet configured every node. */
export async function installWhereabouts(cluster: KubeCluster, signal?: AbortSignal): Promise<void> {
  const files = cluster.binaries.whereaboutsFiles;
  const image = cluster.images.find((i) => i.name === 'whereabouts');
  if (!image)
    throw new Error("the cluster serves no whereabouts image: start it with extraImages: ['whereabouts']");
  const apply = async (file: string): Promise<void> => {
    const out = await cluster.kubectl(['apply', '--server-side', '-f', file]);
    if (out.code !== 0)
      throw new Error(`kubectl apply -f ${file}: ${out.stderr.trim() || out.stdout.trim()}`);
  };
  for (const crd of (await readdir(files)).filter((f) => f.startsWith('whereabouts.cni.cncf.io_')))
    await apply(join(files, crd));
  const read = await cluster.kubectl([
    'create',
    '--dry-run=client',
    '--validate=false',
    '-o',
    'yaml',
    '-f',
    join(files, 'daemonset-install.yaml'),
  ]);
  if (read.code !== 0) throw new Error(`kubectl cannot read daemonset-install.yaml: ${read.stderr.trim()}`);
  const install = join(cluster.dir, 'whereabouts-daemonset-install.yaml');
  await writeFile(install, adaptDaemonSetInstall(read.stdout, image.reference, cluster.apiGateway));
  await apply(install);
  const rollout = await cluster.kubectl([
    '-n',
    'kube-system',
    'rollout',
    'status',
    'daemonset/whereabouts',
    '--timeout=300s',
  ]);
  if (rollout.code !== 0)
    throw new Error(
      `whereabouts' DaemonSet did not roll out: ${rollout.stderr.trim() || rollout.stdout.trim()}`,
    );
  await eventually(
    "whereabouts' DaemonSet to configure every node",
    () =>
      cluster.nodes.every(
        (n) =>
          existsSync(n.hostPath(whereaboutsConfig)) && existsSync(n.hostPath('/opt/cni/bin/whereabouts')),
      )
        ? true
        : undefined,
    { timeoutMs: 120_000, ...(signal ? { signal } : {}) },
  );
}
