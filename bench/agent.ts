/**
 * `npm run bench:agent` (root): the node agent's memory in Kubernetes mode, phase by phase, run as the
 * Helm chart runs it. The agent is the built image code (`node dist/app/cmd/multinet.js agent`, after
 * `npm run build`) with the DaemonSet's args and env (NODE_OPTIONS included) from `helm template`,
 * NODE_ENV=production as in the image, and a token of a ServiceAccount bound to the chart's agent
 * ClusterRole (a token file, read as in-cluster). Against a fresh control plane and a local node (real
 * network namespaces, Debian's CNI plugins):
 *
 *   start → N NADs (default 500) → P pods with the networks annotation on its node (100) → T ADD+DELs of
 *   a default (bridge) + macvlan pod (800, straight at the agent's socket, cycling over the P pods) →
 *   B bursts of K concurrent ADDs (2 × 50)
 *
 * with VmRSS and VmHWM after each phase, and Multus' thick daemon beside it in the same run (built from
 * shared/anchors by bench/anchors, run in a private mount namespace with the same node name, conf
 * (its own dir), NADs and pods; the trials alternate which daemon goes first, its ADD+DELs run
 * multus-shim as a runtime does). Beside both, the Node skeleton (bench/skeleton-daemon.ts): the least
 * a Node.js daemon does for the same job, with Node's built-ins only, run by the same node with the same
 * NODE_OPTIONS and the agent's RBAC: what Node itself costs, measured in the same phases. After every ADD
 * the pod's namespace must hold eth0 and net1. The last line is
 *
 *   RESULT agent_peak_mb=<max VmHWM> agent_growth_mb=<VmHWM after the trials − after the pods>
 *          agent_rss_growth_mb=<the same of VmRSS> multus_peak_mb=<m> skeleton_peak_mb=<s> skeleton_growth_mb=<g>
 *
 * Before the control plane starts it prints the agent's floor (bench/memory-floor.ts): node idle, with the
 * built-ins a Kubernetes client loads, and with the agent's modules imported, same node and NODE_OPTIONS.
 *
 * Options: --nads N --pods P --trials T --bursts B --burst K; --no-multus runs the agent alone (quick
 * runs; multus_peak_mb=n/a); --heap-snapshots DIR writes a heap snapshot
 * of the agent after the pods and after the trials (for finding what it keeps); BENCH_NODE_OPTIONS
 * replaces the chart's NODE_OPTIONS and BENCH_AGENT_ENV ("NAME=value ...") adds environment variables
 * and BENCH_NODE_ARGS node flags on the command line (to compare V8 and malloc settings).
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { cniEndpoint, type CniRequest } from '../lib/cni/request.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../lib/nad.ts';
import { nodeStatePath } from '../lib/node-state.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { startControlPlane } from '../dev/controlplane/controlplane.ts';
import { freePort } from '../dev/controlplane/readiness.ts';
import { installCrds } from '../dev/controlplane/crds.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { http } from '../platform/nodejs/http.ts';
import { describeFloor, memoryFloor } from './memory-floor.ts';
import { metricValue, scrapeMetrics, type Series } from './metrics.ts';
import { LocalNode, pluginDir, requireNetnsPrerequisites, type Pod } from '../dev/netns/local-node.ts';
import {
  ensureMultus,
  multusClusterRules,
  podCniArgs,
  runMultusShim,
  startMultusDaemon,
  type MultusDaemon,
} from './anchors/multus.ts';
import {
  benchNadConfig,
  buildImageCode,
  chartComponent,
  chartNamespace,
  componentKubeconfig,
  envPairs,
  startComponent,
} from './chart-process.ts';
import { cpuMs, memory, type Memory } from './proc.ts';
import { skeletonName, startSkeleton, type Skeleton } from './skeleton.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nads: { type: 'string', default: '500' },
    pods: { type: 'string', default: '100' },
    trials: { type: 'string', default: '800' },
    bursts: { type: 'string', default: '2' },
    burst: { type: 'string', default: '50' },
    'heap-snapshots': { type: 'string' },
    'no-multus': { type: 'boolean', default: false },
  },
});
const nadCount = Number(values.nads);
const podCount = Number(values.pods);
const trials = Number(values.trials);
const bursts = Number(values.bursts);
const burstSize = Math.min(Number(values.burst), podCount);
const snapshotDir = values['heap-snapshots'] ? resolve(values['heap-snapshots']) : undefined;

const say = (line: string): void => void process.stderr.write(`[bench:agent] ${line}\n`);

function post(
  socket: string,
  body: CniRequest,
): Promise<{ result?: { interfaces?: Array<{ name: string }> }; error?: { msg: string } }> {
  const text = JSON.stringify(body);
  return new Promise((resolvePost, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        path: cniEndpoint,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePost(JSON.parse(Buffer.concat(chunks).toString('utf8')) as never));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** A pod as a ReplicaSet makes it (about 4 KB with its status), on the bench's node. */
function podManifest(name: string, nodeName: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      labels: { app: 'web', 'pod-template-hash': '5d4f8c7b9d', tier: 'frontend' },
      annotations: {
        [networksAnnotation]: 'macvlan-conf',
        'kubectl.kubernetes.io/restartedAt': '2026-11-30T10:00:00Z',
      },
    },
    spec: {
      nodeName,
      containers: [
        {
          name: 'web',
          image: 'registry.example/web:1.2.3',
          ports: [{ containerPort: 8080, name: 'http' }],
          env: Array.from({ length: 12 }, (_, i) => ({
            name: `SETTING_${i}`,
            value: `value-${i}-${'x'.repeat(20)}`,
          })),
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/web' },
            { name: 'data', mountPath: '/var/lib/web' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'web-config' } },
        { name: 'data', emptyDir: {} },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
  };
}

/** A pod of the bench: its network namespace on the local node and its UID in the API server. */
interface Target {
  readonly pod: Pod;
  readonly uid: string;
}

/** A CNI daemon under test: multinet's agent or Multus'. */
interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** Memory after each phase. */
  readonly phases: Memory[];
  add(target: Target): Promise<void>;
  del(target: Target): Promise<void>;
}

/** After an ADD the pod has the default network's eth0 and the macvlan's net1, whoever attached them. */
function expectAttached(daemon: Daemon, target: Target): void {
  const names = target.pod.interfaces().map((i) => i.ifname);
  if (!names.includes('eth0') || !names.includes('net1'))
    throw new Error(
      `after ${daemon.name} ADD, ${target.pod.name} has [${names.join(', ')}], not eth0 and net1`,
    );
}

requireNetnsPrerequisites();
buildImageCode(say);
say('rendering the chart (helm template) for the agent DaemonSet and its RBAC');
const chart = await chartComponent('agent', [
  'cni-conf-dir',
  'cni-bin-dir',
  'state-dir',
  'socket',
  'shim-source',
  'probe-listen',
]);
const nodeOptions = process.env.BENCH_NODE_OPTIONS ?? chart.env.NODE_OPTIONS ?? '';
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
say(
  `the agent's floor (VmHWM with the same node and NODE_OPTIONS, modules imported, nothing run): ${describeFloor(
    await memoryFloor(['cli/agent.js', 'agent/kube-networking.js'], nodeOptions),
  )}`,
);
const cacheDir = defaultCacheDir(process.env, homedir());
const multusBinaries = values['no-multus']
  ? undefined
  : await ensureMultus({ cacheDir, env: process.env, log: say });

say('starting a control plane');
const cp = await startControlPlane({
  kill: (pid, signal) => process.kill(pid, signal),
  cacheDir,
  env: process.env,
  log: say,
});
const lab = new LocalNode('agentbench');
const admin = new KubeRestClient(cp.kubeConfig(), { qps: 0, maxSockets: 16, fieldManager: 'bench' });
let agentPid: number | undefined;
let multus: MultusDaemon | undefined;
let skeleton: Skeleton | undefined;
const stopMultus = (): void => multus?.stopSync();
process.on('exit', stopMultus);
let exitCode = 0;
let result: string | undefined;
try {
  await installCrds(cp.kubeConfig());
  const kubeconfig = await componentKubeconfig(cp, admin, chart, join(lab.dir, 'serviceaccount'));
  const probePort = await freePort();
  if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
  const agent = startComponent(
    chart,
    [
      '--kubeconfig',
      kubeconfig,
      '--cni-conf-dir',
      lab.confDir,
      '--cni-bin-dir',
      pluginDir,
      '--state-dir',
      lab.stateDir,
      '--socket',
      lab.socket,
      '--probe-listen',
      `127.0.0.1:${probePort}`,
      '--log-level',
      'warn',
    ],
    {
      nodeOptions: [nodeOptions, snapshotDir ? '--heapsnapshot-signal=SIGUSR2' : ''].join(' ').trim(),
      nodeArgs,
      env: { ...envPairs(process.env.BENCH_AGENT_ENV), NODE_NAME: lab.nodeName },
      cwd: snapshotDir ?? lab.dir,
    },
  );
  const child = agent.child;
  agentPid = agent.pid;
  const pid = agent.pid;
  /** The agent's /metrics; none while it does not answer (still starting). */
  const scrape = (): Promise<Series[]> => scrapeMetrics(probePort).catch(() => []);
  const until = async (what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> => {
    for (const deadline = Date.now() + timeoutMs; !(await probe());) {
      if (child.exitCode !== null)
        throw new Error(`the agent exited while waiting for ${what}:\n${agent.log()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${agent.log()}`);
      await sleep(100);
    }
  };
  const snapshot = async (label: string): Promise<void> => {
    if (!snapshotDir) return;
    const before = new Set(readdirSync(snapshotDir));
    process.kill(pid, 'SIGUSR2');
    await until(`the heap snapshot ${label}`, () =>
      Promise.resolve(readdirSync(snapshotDir).some((f) => !before.has(f) && f.endsWith('.heapsnapshot'))),
    );
    say(`heap snapshot ${label} written to ${snapshotDir}`);
  };
  await until('the agent to be ready (informers synced)', () =>
    fetch(`http://127.0.0.1:${probePort}/readyz`).then(
      (r) => r.ok,
      () => false,
    ),
  );
  say(`agent ready (pid ${pid}, NODE_OPTIONS=${JSON.stringify(nodeOptions)})`);

  const conf = lab.generatedConfig();
  const network = { ...conf.plugins[0], name: conf.name, cniVersion: conf.cniVersion };
  const request = (command: 'ADD' | 'DEL', { pod, uid }: Target): CniRequest => ({
    command,
    containerId: pod.containerId,
    netns: pod.netnsPath,
    ifName: 'eth0',
    args: podCniArgs({ namespace: 'default', name: pod.name, uid, containerId: pod.containerId }),
    path: pluginDir,
    config: network,
  });
  /** A daemon that serves the agent's protocol on its socket (the agent, the skeleton). */
  const socketDaemon = (name: string, daemonPid: number, socket: string): Daemon => {
    const call = async (command: 'ADD' | 'DEL', target: Target): Promise<void> => {
      const reply = await post(socket, request(command, target));
      if (reply.error) throw new Error(`${name} ${command} of ${target.pod.name} failed: ${reply.error.msg}`);
    };
    return {
      name,
      pid: daemonPid,
      phases: [],
      add: (target) => call('ADD', target),
      del: (target) => call('DEL', target),
    };
  };
  const daemons: Daemon[] = [socketDaemon('multinet agent', pid, lab.socket)];
  if (multusBinaries) {
    // Its own conf dir with the same default network: each daemon generates its config from it.
    const multusConfDir = join(lab.dir, 'multus-net.d');
    mkdirSync(multusConfDir);
    copyFileSync(join(lab.confDir, '10-podnet.conflist'), join(multusConfDir, '10-podnet.conflist'));
    const account = await cp.serviceAccountToken('multinet', 'multus', {
      clusterRules: [...multusClusterRules],
    });
    const daemon = await startMultusDaemon({
      binaries: multusBinaries,
      apiServer: { server: cp.serverUrl, caPem: cp.caPem, token: account.token },
      nodeName: lab.nodeName,
      confDir: multusConfDir,
      binDir: pluginDir,
      runDir: lab.dir,
      env: process.env,
    });
    multus = daemon;
    say(`Multus' daemon ready (pid ${daemon.pid})`);
    const shim = (command: 'ADD' | 'DEL', { pod, uid }: Target): ReturnType<typeof runMultusShim> =>
      runMultusShim({
        shim: daemon.shim,
        command,
        config: daemon.config(),
        containerId: pod.containerId,
        netns: pod.netnsPath,
        ifName: 'eth0',
        args: podCniArgs({ namespace: 'default', name: pod.name, uid, containerId: pod.containerId }),
        cniPath: pluginDir,
      });
    daemons.push({
      name: 'Multus thick daemon',
      pid: daemon.pid,
      phases: [],
      async add(target) {
        const out = await shim('ADD', target);
        if (out.code !== 0)
          throw new Error(`Multus ADD of ${target.pod.name} failed: ${out.stdout}${out.stderr}`);
      },
      async del(target) {
        const out = await shim('DEL', target);
        if (out.code !== 0)
          throw new Error(`Multus DEL of ${target.pod.name} failed: ${out.stdout}${out.stderr}`);
      },
    });
  }
  // Node's own share, measured beside both: the least a Node daemon does for this job (built-ins only).
  const skeletonAccount = await cp.serviceAccountToken(chartNamespace, 'multinet-skeleton', {
    clusterRules: chart.clusterRules,
  });
  const started = await startSkeleton({
    dir: lab.dir,
    nodeOptions,
    config: {
      server: cp.serverUrl,
      caPem: cp.caPem,
      token: skeletonAccount.token,
      nodeName: lab.nodeName,
      defaultNetwork: lab.defaultNetwork(),
    },
  });
  skeleton = started;
  say(`${skeletonName} ready (pid ${started.pid})`);
  const skeletonDaemon = socketDaemon(skeletonName, started.pid, started.socket);
  const multusDaemon = daemons[1];
  daemons.push(skeletonDaemon);
  const [ours] = daemons as [Daemon, ...Daemon[]];
  const skeletonHolds = async (nads: number, pods: number): Promise<boolean> => {
    const counts = await started.counts();
    return counts.nads === nads && counts.pods === pods;
  };
  const phaseNames: string[] = [];
  const measure = async (name: string): Promise<void> => {
    phaseNames.push(name);
    for (const daemon of daemons) daemon.phases.push(memory(daemon.pid));
    const series = await scrape();
    const mb = (metric: string, labels: Record<string, string> = {}): string =>
      ((metricValue(series, `multinet_agent_nodejs_${metric}`, labels) ?? 0) / 2 ** 20).toFixed(1);
    const heap = `V8 heap ${mb('heap_size_used_bytes')} used of ${mb('heap_size_total_bytes')}, new space ${mb('heap_space_size_total_bytes', { space: 'new' })}, external ${mb('external_memory_bytes')}`;
    const spaces = series
      .filter((s) => s.name === 'multinet_agent_nodejs_heap_space_size_used_bytes')
      .map(({ labels: { space = '' } }) => {
        const used = mb('heap_space_size_used_bytes', { space });
        return `${space} ${used}/${mb('heap_space_size_total_bytes', { space })}`;
      })
      .join(', ');
    const m = ours.phases.at(-1)!;
    say(`${name}: V8 spaces (used/total MB): ${spaces}`);
    say(
      `${name}: agent VmRSS ${m.rssMb.toFixed(1)} MB (anon ${m.anonMb.toFixed(1)}, file ${m.fileMb.toFixed(1)}), VmHWM ${m.hwmMb.toFixed(1)} MB (${heap})${daemons
        .slice(1)
        .map(
          (d) =>
            `; ${d.name} VmRSS ${d.phases.at(-1)!.rssMb.toFixed(1)} MB, VmHWM ${d.phases.at(-1)!.hwmMb.toFixed(1)} MB`,
        )
        .join('')}`,
    );
  };
  await measure('start');

  // NADs: the one the pods use (the lab's macvlan on its veth master) and nadCount - 1 others.
  const macvlan = {
    ...lab.seedMacvlanNad(),
    ipam: { type: 'host-local', subnet: '192.0.2.0/24', dataDir: lab.ipamDir },
  };
  const nadBody = (name: string, config: object): object => ({
    apiVersion: nadApiVersion,
    kind: nadKind,
    metadata: { name },
    spec: { config: JSON.stringify(config) },
  });
  const nadPath = `/apis/${nadGroup}/${nadVersion}/namespaces/default/${nadPlural}`;
  await admin.request({ method: 'POST', path: nadPath, body: nadBody('macvlan-conf', macvlan) });
  let next = 1;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < nadCount; i = next++)
        await admin.request({
          method: 'POST',
          path: nadPath,
          body: nadBody(`net-${String(i).padStart(4, '0')}`, benchNadConfig(i)),
        });
    }),
  );
  const nodeState = nodeStatePath(lab.nodeName);
  await until(`the agent to report ${nadCount} NADs`, async () => {
    const state = await admin
      .request<{ status?: { networkCount?: number } }>({ method: 'GET', path: nodeState })
      .catch(() => undefined);
    return state?.status?.networkCount === nadCount;
  });
  await until(`the skeleton to hold ${nadCount} NADs`, () => skeletonHolds(nadCount, 0));
  await measure(`${nadCount} NADs`);

  // Pods on the node, each with a network namespace of the local node.
  const pods: Target[] = [];
  for (let i = 0; i < podCount; i++) {
    const name = `web-${String(i).padStart(3, '0')}`;
    const created = await admin.request<{ metadata: { uid: string } }>({
      method: 'POST',
      path: '/api/v1/namespaces/default/pods',
      body: podManifest(name, lab.nodeName),
    });
    pods.push({ pod: lab.newPod('macvlan-conf', name), uid: created.metadata.uid });
  }
  await until(
    `the agent to cache ${podCount} pods`,
    async () => metricValue(await scrape(), 'multinet_agent_cached_objects', { kind: 'Pod' }) === podCount,
  );
  await until(`the skeleton to hold ${podCount} pods`, () => skeletonHolds(nadCount, podCount));
  await measure(`${podCount} pods`);
  await snapshot('after the pods');

  const cpuBefore = daemons.map((d) => cpuMs(d.pid));
  const trialsStarted = performance.now();
  for (let t = 0; t < trials; t++) {
    const target = pods[t % podCount]!;
    // Each pod: ADD+DEL through each daemon, in alternating order.
    for (const daemon of t % 2 === 0 ? daemons : [...daemons].reverse()) {
      await daemon.add(target);
      expectAttached(daemon, target);
      await daemon.del(target);
    }
    if ((t + 1) % 200 === 0)
      say(
        `  ${t + 1}/${trials} ADD+DEL; VmRSS ${daemons.map((d) => `${d.name} ${memory(d.pid).rssMb.toFixed(1)} MB`).join(', ')}`,
      );
  }
  const trialMs = (performance.now() - trialsStarted) / trials;
  const trialCpuMs = daemons.map((d, i) => (cpuMs(d.pid) - cpuBefore[i]!) / trials);
  await measure(`${trials} ADD+DEL`);
  await snapshot('after the trials');

  for (const daemon of daemons) {
    for (let b = 0; b < bursts; b++) {
      const targets = pods.slice(0, burstSize);
      await Promise.all(targets.map((target) => daemon.add(target)));
      for (const target of targets) expectAttached(daemon, target);
      await Promise.all(targets.map((target) => daemon.del(target)));
    }
  }
  await measure(`${bursts} × ${burstSize} concurrent ADDs`);

  process.stdout.write(
    `\n${trials} pods: ADD+DEL through every daemon ${trialMs.toFixed(1)} ms per pod; CPU per ADD+DEL: ${daemons.map((d, i) => `${d.name} ${trialCpuMs[i]!.toFixed(1)} ms`).join(', ')}\n`,
  );
  process.stdout.write(
    `agent NODE_OPTIONS=${JSON.stringify(nodeOptions)} ${[...nodeArgs, process.env.BENCH_AGENT_ENV ?? ''].join(' ')}\n\n`,
  );
  process.stdout.write(`| daemon (MB, VmHWM / VmRSS) | ${phaseNames.join(' | ')} |\n`);
  process.stdout.write(`| --- |${phaseNames.map(() => ' --- |').join('')}\n`);
  for (const daemon of daemons)
    process.stdout.write(
      `| ${daemon.name} | ${daemon.phases.map((m) => `${m.hwmMb.toFixed(0)} / ${m.rssMb.toFixed(0)}`).join(' | ')} |\n`,
    );
  const peakOf = (daemon: Daemon | undefined): string =>
    daemon ? Math.max(...daemon.phases.map((m) => m.hwmMb)).toFixed(1) : 'n/a';
  const growth = (daemon: Daemon, key: 'hwmMb' | 'rssMb' = 'hwmMb'): string =>
    (
      daemon.phases[phaseNames.indexOf(`${trials} ADD+DEL`)]![key] -
      daemon.phases[phaseNames.indexOf(`${podCount} pods`)]![key]
    ).toFixed(1);
  result = `RESULT agent_peak_mb=${peakOf(ours)} agent_growth_mb=${growth(ours)} agent_rss_growth_mb=${growth(ours, 'rssMb')} multus_peak_mb=${peakOf(multusDaemon)} skeleton_peak_mb=${peakOf(skeletonDaemon)} skeleton_growth_mb=${growth(skeletonDaemon)}`;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  agentPid = undefined;
} catch (err) {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (agentPid !== undefined) {
    try {
      process.kill(agentPid, 'SIGKILL');
    } catch {
      // it already exited (the failure said why)
    }
  }
  await skeleton?.stop();
  await multus?.stop();
  process.off('exit', stopMultus);
  admin.close();
  await lab.destroy();
  await cp.stop();
}
if (result) process.stdout.write(`\n${result}\n`);
process.exitCode = exitCode;
