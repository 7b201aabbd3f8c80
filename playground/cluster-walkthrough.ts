/**
 * The playground on several real Kubernetes nodes (dev/cluster): multinet installed with helm from
 * charts/multinet (the image built from the Dockerfile), whereabouts as its users install it, then the
 * seed walkthrough across nodes as a user types it: the seed's macvlan-conf NAD with "master": "eth0"
 * unchanged (each node's uplink) and its IPAM made cluster-wide (whereabouts, 203.0.113.200-216: host-local
 * would hand out the same addresses on every node), the seed's samplepod on two different nodes, and one
 * pinging the other over net1.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { eventually } from '../dev/eventually.ts';
import type { KubeCluster } from '../dev/cluster/kube-cluster.ts';
import type { NodePlaygroundOptions } from './node-walkthrough.ts';
import { seedDir, type SeedNad } from './seed.ts';
import { runWalkthrough, shownKubectl, type Step, type WalkthroughUp } from './steps.ts';

/** The seed's NAD as a cluster of several nodes takes it: its IPAM cluster-wide, in 203.0.113.0/24. */
export async function seedNadForCluster(): Promise<SeedNad> {
  const nad = yaml.load(await readFile(join(seedDir, 'macvlan-conf.nad.yaml'), 'utf8')) as SeedNad;
  const config = JSON.parse(nad.spec.config) as Record<string, unknown>;
  const ipam = {
    type: 'whereabouts',
    range: '203.0.113.0/24',
    range_start: '203.0.113.200',
    range_end: '203.0.113.216',
  };
  return { ...nad, spec: { config: JSON.stringify({ ...config, ipam }) } };
}

/** The seed's samplepod, named `name`, on `node`. */
async function samplepodOn(name: string, node: string): Promise<Record<string, unknown>> {
  const pod = yaml.load(await readFile(join(seedDir, 'samplepod.yaml'), 'utf8')) as {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown>;
  };
  return {
    ...pod,
    metadata: { ...pod.metadata, name },
    spec: { ...pod.spec, nodeSelector: { 'kubernetes.io/hostname': node } },
  };
}

/** Runs the walkthrough on `nodes` real nodes; returns true when every step succeeded. */
export async function runClusterPlayground(
  options: NodePlaygroundOptions & { nodes: number },
): Promise<boolean> {
  const { say, signal } = options;
  const [{ startKubeCluster }, { installChart }, { clusterChartTarget }, { installWhereabouts }] =
    await Promise.all([
      import('../dev/cluster/kube-cluster.ts'),
      import('../dev/node/multinet-chart.ts'),
      import('../dev/cluster/cluster-chart.ts'),
      import('../dev/cluster/whereabouts.ts'),
    ]);
  let cluster: KubeCluster | undefined;
  const kubectl = shownKubectl(say, (args) => cluster!.kubectl(args));
  const steps = async (step: Step, work: string): Promise<WalkthroughUp> => {
    const manifest = async (name: string, object: unknown): Promise<string> => {
      const file = join(work, name);
      await writeFile(file, yaml.dump(object));
      return file;
    };
    const started = await step(
      `start ${options.nodes} real Kubernetes nodes on this machine (each its own kubelet and containerd, joined by an underlay)`,
      () =>
        startKubeCluster({
          nodes: options.nodes,
          cacheDir: options.cacheDir,
          env: options.env,
          uid: options.uid,
          pid: options.pid,
          kill: options.kill,
          listen: options.listen,
          extraImages: ['multinet', 'whereabouts'],
          waitForOtherNodeMs: options.waitForOtherNodeMs ?? 0,
          log: (line) => say(`    ${line}`),
          signal,
        }),
    );
    cluster = started;
    await kubectl(['get', 'nodes', '-o', 'wide']);
    await step('helm install multinet charts/multinet (the image built from the Dockerfile)', () =>
      installChart(clusterChartTarget(started), { signal, log: (line) => say(`    ${line}`) }),
    );
    await kubectl(['-n', 'multinet', 'get', 'pods', '-o', 'wide']);
    await step('install whereabouts (cluster-wide IPAM) from its own manifests', () =>
      installWhereabouts(started, signal),
    );
    if (options.kubeconfigOut) {
      await options.writeKubeconfig(
        options.kubeconfigOut,
        await readFile(started.adminKubeconfigPath, 'utf8'),
      );
      say(`  admin kubeconfig written to ${options.kubeconfigOut}`);
    }
    const nadFile = await manifest('macvlan-conf.yaml', await seedNadForCluster());
    await step(
      `apply the seed's macvlan-conf NAD ("master": "eth0" as it is; IPAM whereabouts, 203.0.113.200-216)`,
      async () => {
        await kubectl(['apply', '-f', nadFile]);
        await eventually(
          `macvlan-conf to be Ready on ${options.nodes}/${options.nodes} nodes`,
          async () =>
            new RegExp(`\\s${options.nodes}/${options.nodes}\\s`).test(
              (await started.kubectl(['get', 'net-attach-def', 'macvlan-conf', '-o', 'wide'])).stdout,
            ),
          { signal, timeoutMs: 90_000 },
        );
        await kubectl(['get', 'net-attach-def', '-o', 'wide']);
      },
    );
    const pods = [
      { name: 'samplepod', node: started.nodes[0]!.name },
      { name: 'samplepod-2', node: started.nodes[1]!.name },
    ];
    await step(`create the seed's samplepod on ${pods[0]!.node} and on ${pods[1]!.node}`, async () => {
      for (const p of pods)
        await kubectl(['create', '-f', await manifest(`${p.name}.yaml`, await samplepodOn(p.name, p.node))]);
      await kubectl(['wait', '--for=condition=Ready', ...pods.map((p) => `pod/${p.name}`), '--timeout=120s']);
      await kubectl(['get', 'pods', '-o', 'wide']);
    });
    const net1 = await step(
      'look inside: eth0 from the node’s pod subnet, net1 from macvlan-conf',
      async () => {
        const addresses: string[] = [];
        for (const p of pods) {
          const ipa = await kubectl(['exec', p.name, '--', 'ip', '-4', 'a', 'show', 'net1']);
          const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(ipa)?.[1];
          if (!address) throw new Error(`${p.name} has no address on net1`);
          addresses.push(address);
        }
        return addresses;
      },
    );
    await step(`ping ${pods[1]!.name} (on ${pods[1]!.node}) from ${pods[0]!.name} over net1`, async () => {
      await kubectl(['exec', pods[0]!.name, '--', 'ping', '-c', '3', '-W', '2', net1[1]!]);
    });
    return {
      kubeconfig: options.kubeconfigOut ?? started.adminKubeconfigPath,
      tryCommands: [`${started.kubectlPath} get pods -o wide`],
      unexpectedExit: started.unexpectedExit,
      onceStep: {
        title: 'delete the samplepods (DEL frees their addresses)',
        work: () => kubectl(['delete', 'pod', ...pods.map((p) => p.name), '--wait=true']),
      },
    };
  };
  return runWalkthrough(options, steps, {
    what: 'the nodes, their processes, mounts, cgroups, network namespaces',
    stop: async () => cluster?.stop(),
  });
}
