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
 *   B bursts of K concurrent ADDs (2 × 50), each through the daemon's shim as a runtime starts them
 *   (bench/shim-burst.ts), timed
 *
 * with VmRSS and VmHWM after each phase (the agent's with its plugin spawner's: the agent runs with the
 * spawner built from spawner/, and its memory and CPU count as the agent's), and Multus' thick daemon
 * beside it in the same run (built from
 * shared/anchors by bench/anchors, run in a private mount namespace with the same node name, conf
 * (its own dir), NADs and pods; the trials alternate which daemon goes first, its ADD+DELs run
 * multus-shim as a runtime does). Beside both, the Node skeleton (bench/skeleton-daemon.ts): the least
 * a Node.js daemon does for the same job, with Node's built-ins only, run by the same node with the same
 * NODE_OPTIONS and the agent's RBAC: what Node itself costs, measured in the same phases. After every ADD
 * the pod's namespace must hold eth0 and net1. Each daemon is born in a memory cgroup of its own
 * (bench/memory-cgroup.ts) limited to the chart's agent memory limit, so the processes it starts (its
 * spawner, the plugins) count with it as in a pod: the cgroup's peak over the bursts and its OOM kills are
 * reported. The last line is
 *
 *   RESULT agent_peak_mb=<max VmHWM, agent + spawner> agent_growth_mb=<VmHWM after the trials − after the pods>
 *          agent_rss_growth_mb=<the same of VmRSS> multus_peak_mb=<m> skeleton_peak_mb=<s> skeleton_growth_mb=<g>
 *          spawner_peak_mb=<its VmHWM> agent_burst_s=<mean seconds of a burst> multus_burst_s=<m> skeleton_burst_s=<s>
 *          agent_burst_cgroup_mb=<the cgroup's peak over the bursts> multus_burst_cgroup_mb=<m>
 *          skeleton_burst_cgroup_mb=<s> oom_kills=<in the three cgroups>
 *
 * Before the control plane starts it prints the agent's floor (bench/memory-floor.ts): node idle, with the
 * built-ins a Kubernetes client loads, and with the agent's modules imported, same node and NODE_OPTIONS.
 *
 * Options: --nads N --pods P --trials T --bursts B --burst K; --no-multus runs the agent alone (quick
 * runs; multus_peak_mb=n/a); --max-parallel N replaces the chart's; --heap-snapshots DIR writes heap snapshots
 * of the agent and of the skeleton (DIR/agent, DIR/skeleton) after the pods and after the trials (for finding
 * what the agent keeps that the skeleton does not); BENCH_NODE_OPTIONS
 * replaces the chart's NODE_OPTIONS and BENCH_AGENT_ENV ("NAME=value ...") adds environment variables
 * and BENCH_NODE_ARGS node flags on the command line (to compare V8 and malloc settings).
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { cniEndpoint, type CniRequest } from '../lib/cni/request.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../lib/nad.ts';
import { nodeStatePath } from '../lib/node-state.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { eventuallyWhileRunning } from '../dev/eventually.ts';
import { startControlPlane } from '../dev/controlplane/controlplane.ts';
import { freePort } from '../dev/controlplane/readiness.ts';
import { installCrds } from '../dev/controlplane/crds.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { http } from '../platform/nodejs/http.ts';
import { describeFloor, memoryFloor } from './memory-floor.ts';
import { metricValue, scrapeMetrics, type Series } from './metrics.ts';
import {
  LocalNode,
  pluginDir,
  requireNetnsPrerequisites,
  shimPath,
  spawnerPath,
  type Pod,
} from '../dev/netns/local-node.ts';
import { memoryCgroup, quantityBytes, type MemoryCgroup } from './memory-cgroup.ts';
import { shimBurst, type ShimCall } from './shim-burst.ts';
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
import { childrenNamed, cpuMs, memory, memoryOf, type Memory } from './proc.ts';
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
    'max-parallel': { type: 'string' },
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
  /** Its processes whose memory and CPU are its own: the daemon, and the agent's spawner. */
  pids(): number[];
  /** The memory cgroup it was born in. */
  readonly cgroup: MemoryCgroup;
  /** Memory after each phase (of pids(), summed). */
  readonly phases: Memory[];
  add(target: Target): Promise<void>;
  del(target: Target): Promise<void>;
  /** Its shim, and an ADD of a target through it as a runtime makes it. */
  readonly shim: string;
  shimAdd(target: Target): ShimCall;
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
  'spawner',
  ...(values['max-parallel'] ? ['max-parallel'] : []),
]);
if (!chart.memoryLimit) throw new Error("the chart sets no memory limit for the agent's container");
const memoryLimit = quantityBytes(chart.memoryLimit);
const cgroups: MemoryCgroup[] = [];
const newCgroup = (name: string): MemoryCgroup => {
  const made = memoryCgroup(`multinet-bench-${name}-${process.pid}`, memoryLimit);
  cgroups.push(made);
  return made;
};
/** The spawner's comm (its file name, cut to 15 bytes by the kernel). */
const spawnerComm = 'multinet-spawner';
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
  /** Heap snapshots on SIGUSR2 into a dir of each process' own. */
  const snapshotFlags = (name: string): string => {
    if (!snapshotDir) return '';
    mkdirSync(join(snapshotDir, name), { recursive: true });
    return `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${join(snapshotDir, name)}`;
  };
  const snapshotTargets: Array<{ pid: number; dir: string }> = [];
  const agentCgroup = newCgroup('agent');
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
      '--spawner',
      spawnerPath(),
      ...(values['max-parallel'] ? ['--max-parallel', values['max-parallel']] : []),
    ],
    {
      nodeOptions: [nodeOptions, snapshotFlags('agent')].join(' ').trim(),
      nodeArgs,
      env: { ...envPairs(process.env.BENCH_AGENT_ENV), NODE_NAME: lab.nodeName },
      cwd: lab.dir,
      wrapper: agentCgroup.wrapper,
    },
  );
  const child = agent.child;
  agentPid = agent.pid;
  const pid = agent.pid;
  /** The agent's /metrics; none while it does not answer (still starting). */
  const scrape = (): Promise<Series[]> => scrapeMetrics(probePort).catch(() => []);
  const until = async (what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> => {
    await eventuallyWhileRunning(child, what, probe, {
      timeoutMs,
      intervalMs: 100,
      detail: () => agent.log(),
    });
  };
  const snapshot = async (label: string): Promise<void> => {
    for (const target of snapshotTargets) {
      const before = new Set(readdirSync(target.dir));
      process.kill(target.pid, 'SIGUSR2');
      await until(`the heap snapshot ${label} in ${target.dir}`, () =>
        Promise.resolve(readdirSync(target.dir).some((f) => !before.has(f) && f.endsWith('.heapsnapshot'))),
      );
      say(`heap snapshot ${label} written to ${target.dir}`);
    }
  };
  if (snapshotDir) snapshotTargets.push({ pid, dir: join(snapshotDir, 'agent') });
  await until('the agent to be ready (informers synced)', () =>
    fetch(`http://127.0.0.1:${probePort}/readyz`).then(
      (r) => r.ok,
      () => false,
    ),
  );
  const spawners = childrenNamed(pid, spawnerComm);
  if (spawners.length !== 1)
    throw new Error(`the agent runs ${spawners.length} ${spawnerComm} processes, not 1:\n${agent.log()}`);
  say(`agent ready (pid ${pid}, its spawner ${spawners[0]}, NODE_OPTIONS=${JSON.stringify(nodeOptions)})`);
  /** The agent and its spawner (restarted, it has another pid). */
  const agentPids = (): number[] => [pid, ...childrenNamed(pid, spawnerComm)];

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
  /** What a runtime gives a shim for an ADD of `target` (besides the config on stdin). */
  const shimEnv = ({ pod, uid }: Target): Record<string, string> => ({
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: pod.netnsPath,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: podCniArgs({ namespace: 'default', name: pod.name, uid, containerId: pod.containerId }),
    CNI_PATH: pluginDir,
  });
  /** A daemon that serves the agent's protocol on its socket behind the Go shim (the agent, the skeleton). */
  const socketDaemon = (
    name: string,
    daemonPid: number,
    socket: string,
    pids: () => number[],
    cgroup: MemoryCgroup,
  ): Daemon => {
    const call = async (command: 'ADD' | 'DEL', target: Target): Promise<void> => {
      const reply = await post(socket, request(command, target));
      if (reply.error) throw new Error(`${name} ${command} of ${target.pod.name} failed: ${reply.error.msg}`);
    };
    const stdin = lab.shimStdin({ socketPath: socket });
    return {
      name,
      pid: daemonPid,
      pids,
      cgroup,
      phases: [],
      add: (target) => call('ADD', target),
      del: (target) => call('DEL', target),
      shim: shimPath(),
      shimAdd: (target) => ({ env: shimEnv(target), stdin }),
    };
  };
  const daemons: Daemon[] = [
    socketDaemon('multinet agent (+ spawner)', pid, lab.socket, agentPids, agentCgroup),
  ];
  if (multusBinaries) {
    // Its own conf dir with the same default network: each daemon generates its config from it.
    const multusConfDir = join(lab.dir, 'multus-net.d');
    mkdirSync(multusConfDir);
    copyFileSync(join(lab.confDir, '10-podnet.conflist'), join(multusConfDir, '10-podnet.conflist'));
    const account = await cp.serviceAccountToken('multinet', 'multus', {
      clusterRules: [...multusClusterRules],
    });
    const multusCgroup = newCgroup('multus');
    const daemon = await startMultusDaemon({
      wrapper: multusCgroup.wrapper,
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
    const multusStdin = JSON.stringify(daemon.config());
    daemons.push({
      name: 'Multus thick daemon',
      pid: daemon.pid,
      pids: () => [daemon.pid],
      cgroup: multusCgroup,
      shim: daemon.shim,
      shimAdd: (target) => ({ env: shimEnv(target), stdin: multusStdin }),
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
  const skeletonCgroup = newCgroup('skeleton');
  const started = await startSkeleton({
    dir: lab.dir,
    wrapper: skeletonCgroup.wrapper,
    nodeOptions: [nodeOptions, snapshotFlags('skeleton')].join(' ').trim(),
    config: {
      server: cp.serverUrl,
      caPem: cp.caPem,
      token: skeletonAccount.token,
      nodeName: lab.nodeName,
      defaultNetwork: lab.defaultNetwork(),
    },
  });
  skeleton = started;
  if (snapshotDir) snapshotTargets.push({ pid: started.pid, dir: join(snapshotDir, 'skeleton') });
  say(`${skeletonName} ready (pid ${started.pid})`);
  const skeletonDaemon = socketDaemon(
    skeletonName,
    started.pid,
    started.socket,
    () => [started.pid],
    skeletonCgroup,
  );
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
    for (const daemon of daemons) daemon.phases.push(memoryOf(daemon.pids()));
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
    const m = memory(pid);
    const helper = agentPids()
      .slice(1)
      .map((p) => memory(p));
    say(`${name}: V8 spaces (used/total MB): ${spaces}`);
    say(
      `${name}: the agent's spawner: ${helper.map((h) => `VmRSS ${h.rssMb.toFixed(1)} MB (anon ${h.anonMb.toFixed(1)}, file ${h.fileMb.toFixed(1)}), VmHWM ${h.hwmMb.toFixed(1)} MB`).join('; ') || 'none'}`,
    );
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

  const cpuOf = (daemon: Daemon): number => daemon.pids().reduce((total, p) => total + cpuMs(p), 0);
  const cpuBefore = daemons.map(cpuOf);
  const spawnerCpu = (): number =>
    agentPids()
      .slice(1)
      .reduce((total, p) => total + cpuMs(p), 0);
  const spawnerCpuBefore = spawnerCpu();
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
  const trialCpuMs = daemons.map((d, i) => (cpuOf(d) - cpuBefore[i]!) / trials);
  const trialSpawnerCpuMs = (spawnerCpu() - spawnerCpuBefore) / trials;
  await measure(`${trials} ADD+DEL`);
  await snapshot('after the trials');

  // Bursts through each daemon's shim, timed; the cgroup's peak over them counts what the daemon started.
  const burstSeconds = new Map<Daemon, number[]>();
  const burstCgroupMb = new Map<Daemon, number>();
  for (const daemon of daemons) {
    daemon.cgroup.resetPeak();
    const seconds: number[] = [];
    for (let b = 0; b < bursts; b++) {
      const targets = pods.slice(0, burstSize);
      seconds.push(
        await shimBurst(
          daemon.shim,
          targets.map((target) => daemon.shimAdd(target)),
          lab.dir,
        ),
      );
      for (const target of targets) expectAttached(daemon, target);
      await Promise.all(targets.map((target) => daemon.del(target)));
    }
    burstSeconds.set(daemon, seconds);
    burstCgroupMb.set(daemon, daemon.cgroup.peakMb());
  }
  await measure(`${bursts} × ${burstSize} concurrent ADDs`);

  process.stdout.write(
    `\n${trials} pods: ADD+DEL through every daemon ${trialMs.toFixed(1)} ms per pod; CPU per ADD+DEL: ${daemons.map((d, i) => `${d.name} ${trialCpuMs[i]!.toFixed(1)} ms`).join(', ')} (of the agent's, its spawner ${trialSpawnerCpuMs.toFixed(1)} ms)\n`,
  );
  process.stdout.write(
    `agent NODE_OPTIONS=${JSON.stringify(nodeOptions)} ${[...nodeArgs, process.env.BENCH_AGENT_ENV ?? ''].join(' ')}${values['max-parallel'] ? ` --max-parallel ${values['max-parallel']}` : ''}\n\n`,
  );
  process.stdout.write(
    `| daemon | ${burstSize} concurrent ADDs through its shim (s, each burst) | its cgroup's peak over the bursts, what it started included (limit ${chart.memoryLimit}) | OOM kills |\n| --- | --- | --- | --- |\n`,
  );
  for (const daemon of daemons)
    process.stdout.write(
      `| ${daemon.name} | ${burstSeconds
        .get(daemon)!
        .map((s) => s.toFixed(2))
        .join(', ')} | ${burstCgroupMb.get(daemon)!.toFixed(1)} MB | ${daemon.cgroup.oomKills()} |\n`,
    );
  process.stdout.write('\n');
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
  const burstOf = (daemon: Daemon | undefined): string => {
    const seconds = daemon ? burstSeconds.get(daemon) : undefined;
    return seconds?.length ? (seconds.reduce((a, b) => a + b, 0) / seconds.length).toFixed(2) : 'n/a';
  };
  const cgroupOf = (daemon: Daemon | undefined): string =>
    daemon ? burstCgroupMb.get(daemon)!.toFixed(1) : 'n/a';
  const spawnerPeak = Math.max(
    0,
    ...agentPids()
      .slice(1)
      .map((p) => memory(p).hwmMb),
  ).toFixed(1);
  const oomKills = daemons.reduce((total, d) => total + d.cgroup.oomKills(), 0);
  result = `RESULT agent_peak_mb=${peakOf(ours)} agent_growth_mb=${growth(ours)} agent_rss_growth_mb=${growth(ours, 'rssMb')} multus_peak_mb=${peakOf(multusDaemon)} skeleton_peak_mb=${peakOf(skeletonDaemon)} skeleton_growth_mb=${growth(skeletonDaemon)} spawner_peak_mb=${spawnerPeak} agent_burst_s=${burstOf(ours)} multus_burst_s=${burstOf(multusDaemon)} skeleton_burst_s=${burstOf(skeletonDaemon)} agent_burst_cgroup_mb=${cgroupOf(ours)} multus_burst_cgroup_mb=${cgroupOf(multusDaemon)} skeleton_burst_cgroup_mb=${cgroupOf(skeletonDaemon)} oom_kills=${oomKills}`;
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
  for (const cgroup of cgroups) await cgroup.remove();
}
if (result) process.stdout.write(`\n${result}\n`);
process.exitCode = exitCode;
