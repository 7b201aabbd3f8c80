/**
 * `npm run bench:pods [-- --nodes N] [--per-node N] [--rounds N]` (root): pod create → Running on several
 * real kubelet nodes (dev/cluster) with multinet installed by helm from its image, with the default
 * network only and with the default network plus one macvlan NAD (on each node's eth0, host-local), in
 * one run, rounds alternating (A B B A ...). Each round creates N pods per node at once (nodeSelector
 * round-robin) and times each from its create request to the watch event that shows it Running and Ready;
 * then deletes them and waits until they are gone. Reported: p50 and p99 of each mode, what the second
 * network adds at p50, and each node's agent peak memory (its pod's memory cgroup, the delegates it ran
 * counted). Last line:
 * RESULT pods=<n> default_p50_ms=<a> default_p99_ms=<b> macvlan_p50_ms=<c> macvlan_p99_ms=<d>
 *        added_p50_pct=<(c-a)/a> agent_peak_mb_max=<m>
 */
import { parseArgs } from 'node:util';
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { clusterChartTarget } from '../dev/cluster/cluster-chart.ts';
import { startKubeCluster, type KubeCluster } from '../dev/cluster/kube-cluster.ts';
import { installChart } from '../dev/node/multinet-chart.ts';
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { podMemory } from './pod-memory.ts';
import { benchmarkOn, benchRunOptions } from './local-run.ts';
import { percentile } from './stats.ts';
import { errorMessage } from '../lib/errors.ts';
import { eventually } from '../dev/eventually.ts';

const { values: flags } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    'per-node': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '2' },
  },
});
const nodeCount = Number(flags.nodes);
const perNode = Number(flags['per-node']);
const rounds = Number(flags.rounds);
const namespace = 'bench';
const say = (line: string): void => void process.stderr.write(`[bench:pods] ${line}\n`);

type Mode = 'default' | 'macvlan';

function isReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** Creates the round's pods at once and resolves with each one's create → Running and Ready, in ms. */
async function round(cluster: KubeCluster, core: CoreV1Api, mode: Mode, index: number): Promise<number[]> {
  const names = Array.from({ length: nodeCount * perNode }, (_, i) => `${mode}-${index}-${i}`);
  const sent = new Map<string, number>();
  const took = new Map<string, number>();
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const seen = (pod: V1Pod): void => {
    const name = pod.metadata?.name ?? '';
    const at = sent.get(name);
    if (at === undefined || took.has(name) || !isReady(pod)) return;
    took.set(name, performance.now() - at);
    if (took.size === names.length) resolveAll();
  };
  // A watch the API server closes (a timeout, a GOAWAY) is started again after one list that catches up.
  let stopped = false;
  let current: { abort(): void } | undefined;
  const watch = async (): Promise<void> => {
    current = await new Watch(cluster.kubeConfig()).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (_type: string, pod: V1Pod) => seen(pod),
      (err: unknown) => {
        if (stopped) return;
        if (err) say(`the watch ended: ${errorMessage(err)}; watching again`);
        void core
          .listNamespacedPod({ namespace })
          .then((list) => list.items.forEach(seen))
          .then(watch)
          .catch((e: unknown) => say(`cannot watch again: ${errorMessage(e)}`));
      },
    );
  };
  await watch();
  try {
    await Promise.all(
      names.map(async (name, i) => {
        sent.set(name, performance.now());
        await core.createNamespacedPod({
          namespace,
          body: {
            metadata: {
              name,
              labels: { bench: 'pods' },
              ...(mode === 'macvlan' ? { annotations: { [networksAnnotation]: 'bench-macvlan' } } : {}),
            },
            spec: {
              terminationGracePeriodSeconds: 0,
              nodeSelector: { 'kubernetes.io/hostname': `node-${(i % nodeCount) + 1}` },
              containers: [
                {
                  name: 'c',
                  image: 'docker.io/library/alpine:latest',
                  // The image is on every node after the warm-up: the time measured is the pod's, not a pull's.
                  imagePullPolicy: 'IfNotPresent',
                  command: ['/bin/sleep', '3600'],
                },
              ],
            },
          },
        });
      }),
    );
    const timeout = setTimeout(() => resolveAll(), 600_000);
    await all;
    clearTimeout(timeout);
  } finally {
    stopped = true;
    current?.abort();
  }
  if (took.size < names.length)
    throw new Error(`${names.length - took.size} pods did not become Ready in 10 min`);
  await core.deleteCollectionNamespacedPod({ namespace, labelSelector: 'bench=pods', gracePeriodSeconds: 0 });
  await eventually(
    'the benchmark pods to be gone',
    async () => (await core.listNamespacedPod({ namespace, labelSelector: 'bench=pods' })).items.length === 0,
    { timeoutMs: 300_000, intervalMs: 500 },
  );
  return names.map((n) => took.get(n)!);
}

/** The agent's pod on each node: peak memory of its pod cgroup (its delegates counted), in MB. */
async function agentPeaks(cluster: KubeCluster, core: CoreV1Api): Promise<Record<string, number>> {
  const pods = await core.listNamespacedPod({
    namespace: 'multinet',
    labelSelector: 'app.kubernetes.io/component=agent',
  });
  const peaks: Record<string, number> = {};
  for (const pod of pods.items) {
    const node = cluster.nodes.find((n) => n.name === pod.spec?.nodeName);
    if (!node) continue;
    peaks[node.name] = Math.round(
      podMemory(node.cgroups.podsRoot, { uid: pod.metadata!.uid!, qosClass: pod.status?.qosClass }).peakMb,
    );
  }
  return peaks;
}

benchmarkOn(
  () => startKubeCluster({ ...benchRunOptions(say), nodes: nodeCount }),
  async (cluster) => {
    await installChart(clusterChartTarget(cluster), { log: say });
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const nad = {
      cniVersion: '1.0.0',
      name: 'bench-macvlan',
      type: 'macvlan',
      master: 'eth0',
      mode: 'bridge',
      ipam: { type: 'host-local', ranges: [[{ subnet: '203.0.113.0/24' }]] },
    };
    const out = await cluster.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'bench-macvlan', namespace },
        spec: { config: JSON.stringify(nad) },
      }),
    );
    if (out.code !== 0) throw new Error(`kubectl apply the NAD: ${out.stderr}`);
    // A warm-up round of each (images unpacked on every node, the agents' first delegate runs).
    for (const mode of ['default', 'macvlan'] as const) await round(cluster, core, mode, -1);
    const samples: Record<Mode, number[]> = { default: [], macvlan: [] };
    for (let r = 0; r < rounds; r++) {
      const order: Mode[] = r % 2 === 0 ? ['default', 'macvlan'] : ['macvlan', 'default'];
      for (const mode of order) {
        const took = await round(cluster, core, mode, r);
        samples[mode].push(...took);
        say(
          `round ${r + 1} ${mode}: p50 ${percentile(took, 50).toFixed(0)} ms, p99 ${percentile(took, 99).toFixed(0)} ms`,
        );
      }
    }
    const peaks = await agentPeaks(cluster, core);
    const p = (mode: Mode, q: number): number => Math.round(percentile(samples[mode], q));
    const added = ((p('macvlan', 50) - p('default', 50)) / p('default', 50)) * 100;
    say(
      `pod create → Running and Ready, ${samples.default.length} pods per mode on ${nodeCount} nodes (${perNode} per node per round)`,
    );
    say(`  default network only:        p50 ${p('default', 50)} ms  p99 ${p('default', 99)} ms`);
    say(`  default + macvlan (eth0):    p50 ${p('macvlan', 50)} ms  p99 ${p('macvlan', 99)} ms`);
    say(`  the second network adds ${added.toFixed(1)}% at p50 (target: at most 10%)`);
    say(
      `  agents' peak memory (pod cgroup, delegates counted): ${Object.entries(peaks)
        .map(([n, mb]) => `${n} ${mb} MB`)
        .join(', ')}`,
    );
    console.log(
      `RESULT pods=${samples.default.length} default_p50_ms=${p('default', 50)} default_p99_ms=${p('default', 99)} ` +
        `macvlan_p50_ms=${p('macvlan', 50)} macvlan_p99_ms=${p('macvlan', 99)} added_p50_pct=${added.toFixed(1)} ` +
        `agent_peak_mb_max=${Math.max(...Object.values(peaks))}`,
    );
  },
);
