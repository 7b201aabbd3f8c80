/**
 * What the multi-node tier's files share: a cluster started for a test file (waiting for another file's
 * node or cluster to stop: one runs per machine), kubectl that throws on failure, pods pinned to a node,
 * and readers of what pods show.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import {
  startKubeCluster,
  type KubeCluster,
  type KubeClusterOptions,
} from '../../dev/cluster/kube-cluster.ts';
import { testRunOptions } from '../node/support.ts';

export { ipv4, requireNodeHost } from '../node/support.ts';

export function startTestCluster(options: Partial<KubeClusterOptions> = {}): Promise<KubeCluster> {
  return startKubeCluster({
    ...testRunOptions(),
    nodes: 3,
    log: (line) => void process.stderr.write(`[nodes tier] ${line}\n`),
    ...options,
  });
}

/** kubectl against the cluster: its output, or an Error with what kubectl said. */
export function kubectlOf(cluster: KubeCluster): (...args: string[]) => Promise<string> {
  return async (...args) => {
    const out = await cluster.kubectl(args);
    if (out.code !== 0)
      throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim() || out.stdout.trim()}`);
    return out.stdout;
  };
}

/** Writes a manifest (YAML) into `dir` and returns its path. */
export function manifest(dir: string, name: string, object: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, yaml.dump(object));
  return file;
}

/** The seed's pod shape (alpine, /bin/ash), on `node`, with the given networks annotation (or none). */
export function podOn(name: string, node: string | undefined, networks?: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(networks ? { annotations: { 'k8s.v1.cni.cncf.io/networks': networks } } : {}) },
    spec: {
      terminationGracePeriodSeconds: 1,
      ...(node ? { nodeSelector: { 'kubernetes.io/hostname': node } } : {}),
      containers: [
        { name: 'c', image: 'alpine', command: ['/bin/ash', '-c', 'trap : TERM INT; sleep infinity & wait'] },
      ],
    },
  };
}

/** A NAD with the given CNI config. */
export function nad(name: string, config: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name },
    spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, ...config }) },
  };
}

/**
 * A Deployment of `replicas` pods of the seed's shape labelled app=`name`, on the networks `networks`
 * (or none), with `podSpec` laid over the pod's spec.
 */
export function deployment(
  name: string,
  replicas: number,
  networks: string | undefined,
  podSpec: Record<string, unknown> = {},
): Record<string, unknown> {
  const pod = podOn(name, undefined, networks) as {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown>;
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          ...(pod.metadata.annotations ? { annotations: pod.metadata.annotations } : {}),
        },
        spec: { ...pod.spec, ...podSpec },
      },
    },
  };
}

/**
 * The attachment records on each node whose pod no longer runs there (by the UID each record names):
 * none, once every DEL ran. As [node, [uid, ...]] pairs, so a failure names the node.
 */
export async function attachmentsWithoutPods(
  cluster: KubeCluster,
  kubectl: (...args: string[]) => Promise<string>,
): Promise<Array<[string, Array<string | undefined>]>> {
  const out: Array<[string, Array<string | undefined>]> = [];
  for (const node of cluster.nodes) {
    const dir = node.hostPath('/var/lib/multinet/attachments');
    const recorded = readdirSync(dir)
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pod?: { uid: string } }).pod?.uid);
    const running = JSON.parse(
      await kubectl('get', 'pods', '-A', '--field-selector', `spec.nodeName=${node.name}`, '-o', 'json'),
    ) as { items: Array<{ metadata: { uid: string } }> };
    const uids = new Set(running.items.map((p) => p.metadata.uid));
    out.push([node.name, recorded.filter((uid) => !uid || !uids.has(uid))]);
  }
  return out;
}
