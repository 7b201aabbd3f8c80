/**
 * `npm run bench:controller`: how long the controller takes to bring 5,000 NADs to Ready, and how much
 * memory it needs. Starts its own control plane, creates 50 namespaces and 20 simulated node agents,
 * runs `bin/multinet controller --kubeconfig ...` as a child process, then applies the NADs while the
 * agents report (NodeNetworkStates with digests from lib/node-state.ts, at most once a second each), and
 * times from the first NAD applied until every NAD is Ready at its generation. The controller's RSS is
 * sampled from /proc/<pid>/status; the peak is its VmHWM. The last line is
 *
 *   RESULT seconds=<s> peak_rss_mb=<m>
 *
 * Options: --nads N (5000), --namespaces N (50), --nodes N (20), --concurrency N (32 NAD creates in
 * flight); arguments after "--" go to the controller (e.g. -- --workers 4 --kube-api-qps 50). The
 * controller runs with NODE_OPTIONS=--max-semi-space-size=2, as the README recommends for its
 * Deployment; set BENCH_NODE_OPTIONS to run it with other Node flags ("" for Node's defaults).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SimulatedAgents } from '../test/doubles/simulated-agents.ts';
import { installCrds } from '../platform/kube/crds.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { createLogger } from '../platform/log.ts';
import { nadApiVersion, nadKind } from '../lib/nad.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { startControlPlane } from '../dev/controlplane/controlplane.ts';
import { freePort } from '../dev/controlplane/readiness.ts';

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
/** The controller's Node flags, as the README recommends for its Deployment; BENCH_NODE_OPTIONS overrides. */
const nodeOptions = process.env.BENCH_NODE_OPTIONS ?? '--max-semi-space-size=2';

const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const seconds = (ms: number): string => (ms / 1000).toFixed(1);
const multinet = fileURLToPath(new URL('../bin/multinet', import.meta.url));

/** A NAD config; four plugin shapes, all valid, each NAD different. */
function config(i: number): object {
  const subnet = `10.${Math.floor(i / 250) % 250}.${i % 250}.0/24`;
  const ipam = { type: 'host-local', subnet };
  switch (i % 4) {
    case 0:
      return { cniVersion: '1.0.0', type: 'bridge', bridge: `br${i % 16}`, ipam };
    case 1:
      return { cniVersion: '1.0.0', type: 'macvlan', master: 'eth1', mode: 'bridge', ipam };
    case 2:
      return { cniVersion: '1.0.0', type: 'ipvlan', master: 'eth1', ipam };
    default:
      return {
        cniVersion: '1.0.0',
        name: `ptp-${i}`,
        plugins: [
          { type: 'ptp', ipam },
          { type: 'tuning', sysctl: { 'net.ipv4.conf.all.log_martians': '1' } },
        ],
      };
  }
}

function memory(pid: number): { rssMb: number; hwmMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

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
say(`starting a control plane (${nadCount} NADs in ${namespaceCount} namespaces, ${nodeCount} nodes)`);
const cp = await startControlPlane({
  cacheDir: defaultCacheDir(process.env, homedir()),
  env: process.env,
  log: (line) => say(line),
});
let exitCode = 0;
let result: string | undefined;
try {
  const kc = cp.kubeConfig();
  await installCrds(kc);
  const rest = new KubeRestClient(kc, { qps: 0, maxSockets: concurrency });
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-${String(i).padStart(2, '0')}`);
  await Promise.all(
    namespaces.map((name) =>
      rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } }),
    ),
  );

  const agents = new SimulatedAgents(rest, log, 1000);
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
  const controllerLog: string[] = [];
  const controller = spawn(
    multinet,
    [
      'controller',
      '--kubeconfig',
      cp.adminKubeconfigPath,
      '--probe-listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...controllerArgs,
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  controller.stderr.setEncoding('utf8').on('data', (chunk: string) => controllerLog.push(chunk));
  const exited = new Promise<number | null>((resolve) => controller.on('exit', (code) => resolve(code)));
  const pid = controller.pid!;
  let peakRss = 0;
  const sampler = setInterval(() => {
    const m = memory(pid);
    if (m) peakRss = Math.max(peakRss, m.rssMb);
  }, 50);
  for (const deadline = Date.now() + 60_000; ;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || controller.exitCode !== null)
      throw new Error(`the controller did not become ready:\n${controllerLog.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const idle = memory(pid);
  say(
    `controller ready (pid ${pid}, RSS ${idle?.rssMb.toFixed(0)} MB, NODE_OPTIONS=${JSON.stringify(nodeOptions)}, args ${JSON.stringify(controllerArgs)}); applying ${nadCount} NADs`,
  );

  const started = Date.now();
  let created = 0;
  const progress = setInterval(() => {
    const m = memory(pid);
    say(
      `t=${seconds(Date.now() - started)}s created=${created} ready=${readyKeys.size} controller RSS=${m?.rssMb.toFixed(0)} MB`,
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
            spec: { config: JSON.stringify(config(i)) },
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
    if (controller.exitCode !== null) throw new Error(`the controller exited:\n${controllerLog.join('')}`);
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

  const hwm = Math.max(peakRss, memory(pid)?.hwmMb ?? 0);
  const stopAt = Date.now();
  controller.kill('SIGTERM');
  const code = await exited;
  clearInterval(sampler);
  say(`controller exited with ${code} ${seconds(Date.now() - stopAt)} s after SIGTERM`);
  if (code !== 0) exitCode = 1;
  await agents.stop().catch(() => undefined);
  rest.close();
  result = `RESULT seconds=${seconds(elapsedMs)} peak_rss_mb=${hwm.toFixed(0)}`;
} catch (err) {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  await cp.stop();
}
if (result) process.stdout.write(`${result}\n`);
process.exitCode = exitCode;
