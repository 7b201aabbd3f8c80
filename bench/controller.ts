/**
 * `npm run bench:controller`: how long the controller takes to bring 5,000 NADs to Ready, and how much
 * memory it needs. Starts its own control plane, creates 50 namespaces and 20 simulated node agents,
 * runs the controller as the Helm chart does (bench/chart-process.ts: the built image code, the
 * Deployment's args and env with its NODE_OPTIONS, leader election included, under a token of the
 * chart's ServiceAccount and RBAC), then applies the NADs while the agents report (NodeNetworkStates
 * with digests from lib/node-state.ts, at most once a second each), and times from the first NAD
 * applied until every NAD is Ready at its generation. The controller's RSS is sampled from
 * /proc/<pid>/status; the peak is its VmHWM. The last line is
 *
 *   RESULT seconds=<s> peak_rss_mb=<m>
 *
 * Options: --nads N (5000), --namespaces N (50), --nodes N (20), --concurrency N (32 NAD creates in
 * flight); arguments after "--" go to the controller (e.g. -- --workers 4 --kube-api-qps 50; the last
 * of a repeated flag wins). BENCH_NODE_OPTIONS replaces the chart's NODE_OPTIONS ("" for Node's
 * defaults).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimulatedAgents } from '../test/doubles/simulated-agents.ts';
import { installCrds } from '../dev/controlplane/crds.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { createLogger } from '../platform/log.ts';
import { nadApiVersion, nadKind } from '../lib/nad.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { eventuallyWhileRunning, httpOk } from '../dev/eventually.ts';
import { startControlPlane } from '../dev/controlplane/controlplane.ts';
import { freePort } from '../dev/controlplane/readiness.ts';
import {
  benchNadConfig,
  buildImageCode,
  chartComponent,
  componentKubeconfig,
  startComponent,
} from './chart-process.ts';
import { memory } from './proc.ts';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nads: { type: 'string', default: '5000' },
    namespaces: { type: 'string', default: '50' },
    nodes: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
  },
  allowPositionals: true,
});
const nadCount = Number(values.nads);
const namespaceCount = Number(values.namespaces);
const nodeCount = Number(values.nodes);
const concurrency = Number(values.concurrency);
const controllerArgs = positionals;

const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const seconds = (ms: number): string => (ms / 1000).toFixed(1);

function ready(nad: NadObject): boolean {
  const status = nad.status as {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string }>;
  };
  return (
    status?.observedGeneration === nad.metadata.generation &&
    status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
  );
}

const log = createLogger({ level: 'warn', format: 'text', stream: process.stderr });
buildImageCode(say);
const chart = await chartComponent('controller', ['probe-listen', 'log-level']);
const nodeOptions = process.env.BENCH_NODE_OPTIONS ?? chart.env.NODE_OPTIONS ?? '';
say(`starting a control plane (${nadCount} NADs in ${namespaceCount} namespaces, ${nodeCount} nodes)`);
const cp = await startControlPlane({
  kill: (pid, signal) => process.kill(pid, signal),
  cacheDir: defaultCacheDir(process.env, homedir()),
  env: process.env,
  log: (line) => say(line),
});
let exitCode = 0;
let result: string | undefined;
const rest = new KubeRestClient(cp.kubeConfig(), { qps: 0, maxSockets: concurrency, fieldManager: 'bench' });
let agents: SimulatedAgents | undefined;
let controllerPid: number | undefined;
try {
  await installCrds(cp.kubeConfig());
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-${String(i).padStart(2, '0')}`);
  await Promise.all(
    namespaces.map((name) =>
      rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } }),
    ),
  );

  agents = new SimulatedAgents(rest, log, 1000);
  for (let i = 0; i < nodeCount; i++) agents.node(`bench-node-${String(i).padStart(2, '0')}`);
  const readyKeys = new Set<string>();
  let lastReadyAt = 0;
  agents.onNad((nad) => {
    const key = `${nad.metadata.namespace}/${nad.metadata.name}`;
    if (ready(nad)) {
      if (!readyKeys.has(key)) lastReadyAt = Date.now();
      readyKeys.add(key);
    } else readyKeys.delete(key);
  });
  await agents.start();

  const port = await freePort();
  const kubeconfig = await componentKubeconfig(cp, rest, chart, join(cp.dir, 'controller-credentials'));
  const running = startComponent(
    chart,
    [
      '--kubeconfig',
      kubeconfig,
      '--probe-listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...controllerArgs,
    ],
    { nodeOptions },
  );
  const controller = running.child;
  const exited = new Promise<number | null>((resolve) => controller.on('exit', (code) => resolve(code)));
  const pid = running.pid;
  controllerPid = pid;
  let peakRss = 0;
  const sampler = setInterval(() => {
    if (controller.exitCode === null) peakRss = Math.max(peakRss, memory(pid).rssMb);
  }, 50);
  await eventuallyWhileRunning(
    controller,
    'the controller to be ready',
    () => httpOk(`http://127.0.0.1:${port}/readyz`),
    {
      timeoutMs: 60_000,
      intervalMs: 100,
      detail: () => running.log(),
    },
  );
  const idle = memory(pid);
  say(
    `controller ready (pid ${pid}, RSS ${idle.rssMb.toFixed(0)} MB, NODE_OPTIONS=${JSON.stringify(nodeOptions)}, args ${JSON.stringify(controllerArgs)}); applying ${nadCount} NADs`,
  );

  const started = Date.now();
  let created = 0;
  const progress = setInterval(() => {
    const m = memory(pid);
    say(
      `t=${seconds(Date.now() - started)}s created=${created} ready=${readyKeys.size} controller RSS=${m.rssMb.toFixed(0)} MB`,
    );
  }, 5000);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < nadCount; i = next++) {
        const namespace = namespaces[i % namespaceCount]!;
        await rest.request({
          method: 'POST',
          path: `/apis/k8s.cni.cncf.io/v1/namespaces/${namespace}/network-attachment-definitions`,
          body: {
            apiVersion: nadApiVersion,
            kind: nadKind,
            metadata: { name: `net-${String(i).padStart(5, '0')}` },
            spec: { config: JSON.stringify(benchNadConfig(i)) },
          },
        });
        created++;
      }
    }),
  );
  const appliedMs = Date.now() - started;
  say(`applied ${nadCount} NADs in ${seconds(appliedMs)} s`);
  const timeoutMs = 600_000;
  while (readyKeys.size < nadCount) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`only ${readyKeys.size}/${nadCount} NADs Ready after ${timeoutMs / 1000} s`);
    if (controller.exitCode !== null) throw new Error(`the controller exited:\n${running.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const elapsedMs = lastReadyAt - started;
  clearInterval(progress);
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const metric = (pattern: RegExp): string =>
    metrics
      .split('\n')
      .filter((l) => pattern.test(l))
      .map((l) => l.replace(/^multinet_controller_/, ''))
      .join(', ');
  say(
    `all ${nadCount} NADs Ready ${seconds(elapsedMs)} s after the first was applied (${seconds(elapsedMs - appliedMs)} s after the last)`,
  );
  say(`controller: ${metric(/^multinet_controller_status_writes_total/)}`);
  say(`controller: ${metric(/^multinet_controller_reconcile_duration_seconds_count/)}`);
  say(
    `controller: ${metric(/^multinet_controller_events_total/)}; ${metric(/^multinet_controller_process_cpu_seconds_total/)}`,
  );
  say(
    `controller: ${metric(/^multinet_controller_nodejs_heap_size_(used|total)_bytes|^multinet_controller_nodejs_external_memory_bytes/)}`,
  );
  say(`agents: ${agents.nodes.reduce((n, node) => n + node.reports, 0)} NodeNetworkState reports`);

  const hwm = Math.max(peakRss, memory(pid).hwmMb);
  const stopAt = Date.now();
  controller.kill('SIGTERM');
  const code = await exited;
  clearInterval(sampler);
  say(`controller exited with ${code} ${seconds(Date.now() - stopAt)} s after SIGTERM`);
  controllerPid = undefined;
  if (code !== 0) exitCode = 1;
  result = `RESULT seconds=${seconds(elapsedMs)} peak_rss_mb=${hwm.toFixed(0)}`;
} catch (err) {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (controllerPid !== undefined) process.kill(controllerPid, 'SIGKILL');
  await agents?.stop().catch(() => undefined);
  rest.close();
  await cp.stop();
}
if (result) process.stdout.write(`${result}\n`);
process.exitCode = exitCode;
