/**
 * `npm run bench:attach [-- --changes N]` (root): networks on a running pod (hot-plug) on the real node
 * (dev/node) with multinet installed by helm from its image. One pod with the seed's macvlan-conf; N
 * changes of its networks annotation, alternating between adding a second macvlan (other-net) and
 * removing it, each timed from the annotation's patch to the watch event that shows the pod's
 * network-status with the change; every tenth change is checked inside the pod too (`ip a`: the interface
 * there or gone, the container not restarted). The agent's memory (its pod's cgroup: anonymous memory,
 * delegates counted) after a warm-up and at the end. Last line:
 * RESULT changes=<n> p50_ms=<a> p99_ms=<b> agent_rss_mb_start=<s> agent_rss_mb_end=<e> agent_peak_mb=<p>
 */
import { parseArgs } from 'node:util';
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { startKubeNode } from '../dev/node/kube-node.ts';
import { installChartOnNode } from '../dev/node/multinet-chart.ts';
import { networksAnnotation, networkStatusAnnotation } from '../lib/annotations/keys.ts';
import { errorMessage } from '../lib/errors.ts';
import { seedNadForNode } from '../playground/node-walkthrough.ts';
import { loadKubeConfig } from '../platform/kube/kubeconfig.ts';
import { contentTypes, KubeRestClient } from '../platform/kube/rest.ts';
import { podMemory } from './pod-memory.ts';
import { benchmarkOn, benchRunOptions } from './local-run.ts';
import { percentile } from './stats.ts';

const { values: flags } = parseArgs({ options: { changes: { type: 'string', default: '100' } } });
const changes = Number(flags.changes);
const say = (line: string): void => void process.stderr.write(`[bench:attach] ${line}\n`);
const podName = 'attach-bench';
const namespace = 'default';

function interfacesIn(pod: V1Pod): string[] {
  const status = pod.metadata?.annotations?.[networkStatusAnnotation];
  if (!status) return [];
  try {
    return (JSON.parse(status) as Array<{ interface?: string }>).flatMap((s) =>
      s.interface ? [s.interface] : [],
    );
  } catch {
    return [];
  }
}

benchmarkOn(
  () => startKubeNode({ ...benchRunOptions(say), vfs: 0 }),
  async (node) => {
    const chart = await installChartOnNode(node, { log: say });
    const kubectl = async (args: readonly string[], stdin?: string): Promise<string> => {
      const out = await node.kubectl(args, stdin);
      if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim()}`);
      return out.stdout;
    };
    const seed = await seedNadForNode(node);
    const other = {
      ...seed,
      metadata: { name: 'other-net' },
      spec: {
        config: seed.spec.config
          .replace('"rangeStart":"192.0.2.200"', '"rangeStart":"192.0.2.230"')
          .replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.2.240"'),
      },
    };
    for (const nad of [seed, other]) await kubectl(['apply', '-f', '-'], JSON.stringify(nad));
    const core = node.kubeConfig().makeApiClient(CoreV1Api);
    const rest = new KubeRestClient(loadKubeConfig({ kubeconfig: node.adminKubeconfigPath }));
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: podName, annotations: { [networksAnnotation]: 'macvlan-conf' } },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [
            {
              name: 'c',
              image: 'docker.io/library/alpine:latest',
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sleep', '36000'],
            },
          ],
        },
      },
    });
    await kubectl(['wait', '--for=condition=Ready', `pod/${podName}`, '--timeout=180s']);
    // Each watch event: whether it shows the change being waited for.
    let waiting: { want: number; resolve: () => void } | undefined;
    let stopped = false;
    let current: { abort(): void } | undefined;
    const watch = async (): Promise<void> => {
      current = await new Watch(node.kubeConfig()).watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { fieldSelector: `metadata.name=${podName}` },
        (_type: string, pod: V1Pod) => {
          if (waiting && interfacesIn(pod).length === waiting.want) waiting.resolve();
        },
        (err: unknown) => {
          if (stopped) return;
          if (err) say(`the watch ended: ${errorMessage(err)}; watching again`);
          void watch();
        },
      );
    };
    await watch();
    const agentPod = async (): Promise<V1Pod> =>
      (
        await core.listNamespacedPod({
          namespace: chart.namespace,
          labelSelector: 'app.kubernetes.io/component=agent',
        })
      ).items[0]!;
    const agentMemory = async (): Promise<{ peakMb: number; rssMb: number }> => {
      const pod = await agentPod();
      return podMemory(node.podsCgroupRoot, { uid: pod.metadata!.uid!, qosClass: pod.status?.qosClass });
    };
    const containerOf = async (): Promise<string> =>
      (await core.readNamespacedPod({ name: podName, namespace })).status!.containerStatuses![0]!
        .containerID!;
    const firstContainer = await containerOf();
    const change = async (i: number): Promise<number> => {
      const add = i % 2 === 0;
      const done = new Promise<void>((resolve) => (waiting = { want: add ? 3 : 2, resolve }));
      const started = performance.now();
      await rest.request({
        method: 'PATCH',
        path: `/api/v1/namespaces/${namespace}/pods/${podName}`,
        contentType: contentTypes.mergePatch,
        body: {
          metadata: {
            annotations: { [networksAnnotation]: add ? 'macvlan-conf,other-net' : 'macvlan-conf' },
          },
        },
        ignoreResponse: true,
      });
      const timeout = setTimeout(() => waiting?.resolve(), 60_000);
      await done;
      clearTimeout(timeout);
      const took = performance.now() - started;
      const seen = interfacesIn(await core.readNamespacedPod({ name: podName, namespace }));
      if (seen.length !== (add ? 3 : 2))
        throw new Error(`change ${i}: network-status shows ${seen.join(', ')}`);
      if (i % 10 === 0) {
        const ipa = await kubectl(['exec', podName, '--', 'ip', '-o', 'link']);
        if (/\bnet2[@:]/.test(ipa) !== add)
          throw new Error(`change ${i}: net2 ${add ? 'missing in' : 'still in'} the pod`);
      }
      return took;
    };
    for (let i = 0; i < 10; i++) await change(i); // warm-up
    const start = await agentMemory();
    const took: number[] = [];
    for (let i = 0; i < changes; i++) took.push(await change(i));
    const end = await agentMemory();
    stopped = true;
    current?.abort();
    rest.close();
    const restarts = (await core.readNamespacedPod({ name: podName, namespace })).status!
      .containerStatuses![0]!.restartCount;
    if ((await containerOf()) !== firstContainer || restarts !== 0)
      throw new Error(`the pod's container was restarted (${restarts} restarts)`);
    const p = (q: number): number => Math.round(percentile(took, q));
    say(
      `${changes} changes of the networks annotation on a running pod (add or remove a macvlan), each until network-status shows it`,
    );
    say(`  p50 ${p(50)} ms, p99 ${p(99)} ms (target: p50 under 1 s); the container was never restarted`);
    say(
      `  the agent's pod: ${start.rssMb} MB anonymous memory after the warm-up, ${end.rssMb} MB after; peak ${end.peakMb} MB`,
    );
    console.log(
      `RESULT changes=${changes} p50_ms=${p(50)} p99_ms=${p(99)} agent_rss_mb_start=${start.rssMb} agent_rss_mb_end=${end.rssMb} agent_peak_mb=${end.peakMb}`,
    );
  },
);
