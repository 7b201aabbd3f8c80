/**
 * `npm run bench:cni [-- --pods N] [--standalone] [--no-multus] [--burst N] [--profile-agent DIR]` (root): what multinet adds to a pod's
 * CNI ADD and DEL, side by side with Multus thick in one run. Each pod (a real network namespace, a
 * Pod object with spec.nodeName and the networks annotation) gets ADD then DEL of the default
 * network (bridge + host-local) and one macvlan NAD (host-local) four ways, in an order rotated per
 * pod: the delegates executed directly, through multus-shim and multus-daemon, through the multinet
 * shim and the Node skeleton (bench/skeleton-daemon.ts: the least a Node daemon does for the job, with
 * built-ins only, run with the agent's Node flags: what Node itself adds), and through the multinet shim
 * and agent (Kubernetes mode). After every ADD eth0 and net1 must exist with their
 * addresses, after every DEL nothing may be left (no interface, no lease). The direct DELs get their
 * ADD's result as prevResult, as libcni gives it (so do Multus', the agent's and the skeleton's). Reported: p50/p90/p99 of
 * the per-pod paired differences to the direct run, ADD and DEL apart; each daemon's CPU per request
 * (from /proc); where multinet's time goes, as means per request from the agent's /metrics (delegate
 * runs beside the same delegates executed directly, the network-status write, the rest of the agent,
 * the shim's exec and the socket); each shim's VERSION time, size and peak RSS. Then, on its own, multinet's path
 * beside a device path, multinet with a device network: the same macvlan NAD annotated k8s.v1.cni.cncf.io/resourceName, each pod's
 * device served by a kubelet stub (test/kubelet-stub, a gRPC server of the kubelet's pod-resources API, listing
 * every bench pod), so the paired difference to multinet's path is what the pod-resources lookup adds to an ADD;
 * the agent's List calls are counted (one per device ADD) and timed (in both modes). `--standalone`: no API
 * server and no Multus (the agent reads NADs and pods from files), for quick runs; `--no-multus`: the
 * Kubernetes mode with the skeleton and without Multus. Last line:
 * RESULT added_p50_ms=<x> added_p99_ms=<y> multus_added_p50_ms=<m> multus_added_p99_ms=<q> ratio_vs_multus=<x/m>
 *        skeleton_added_p50_ms=<s> skeleton_added_p99_ms=<t> skeleton_ratio_vs_multus=<s/m> over_skeleton_p50_ms=<x-s>
 *        device_lookup_added_p50_ms=<d> pod_resources_list_ms=<l>
 * (added = ADD+DEL over direct; the multus_* keys only with Multus, the skeleton_* ones in the Kubernetes mode). The agent runs as the
 * image runs it (`npm run build`'s dist/app) with the
 * chart's Node flags (agent.nodeOptions); BENCH_AGENT_NODE_OPTIONS replaces them (e.g. "" for Node's
 * defaults, to compare).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { buildImageCode, chartComponent, imageEntry, nodeBinary } from './chart-process.ts';
import { startControlPlane, type ControlPlane } from '../dev/controlplane/controlplane.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { freePort } from '../dev/controlplane/readiness.ts';
import { metricValue, scrapeMetrics, type Series } from './metrics.ts';
import { childrenNamed, cpuMs, memory } from './proc.ts';
import { median, percentile } from './stats.ts';
import { skeletonName, startSkeleton, type Skeleton } from './skeleton.ts';
import { nadGroup, nadPlural, nadVersion } from '../lib/nad.ts';
import { resourceNameAnnotation } from '../lib/annotations/keys.ts';
import { KubeletStub, kubeletStubBinary } from '../test/kubelet-stub/stub.ts';
import { installCrds } from '../dev/controlplane/crds.ts';
import { nodeExec } from '../platform/nodejs/exec.ts';
import {
  ensureMultus,
  missingDaemonPrerequisites,
  multusClusterRules,
  podCniArgs,
  startMultusDaemon,
  type MultusDaemon,
} from './anchors/multus.ts';
import {
  LocalNode,
  pluginDir,
  requireNetnsPrerequisites,
  shimPath,
  type Pod,
} from '../dev/netns/local-node.ts';

const { values: flags } = parseArgs({
  options: {
    pods: { type: 'string', default: '200' },
    standalone: { type: 'boolean', default: false },
    'no-multus': { type: 'boolean', default: false },
    burst: { type: 'string', default: '0' },
    'version-runs': { type: 'string', default: '50' },
    /** Write the agent's CPU profile (node --cpu-prof) into this dir. */
    'profile-agent': { type: 'string' },
  },
});
const pods = Number(flags.pods);
const burst = Number(flags.burst);
const versionRuns = Number(flags['version-runs']);
const standalone = flags.standalone;
const withMultus = !standalone && !flags['no-multus'];
const namespace = 'bench';
const plainEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
/** The device network's resource, and the Pod objects (name + this suffix) that select it. */
const deviceResource = 'multinet.dev/vf';
const deviceSuffix = '-dev';

function say(line: string): void {
  process.stderr.write(`bench:cni: ${line}\n`);
}

/**
 * Runs one CNI plugin or shim as a runtime does and returns its wall time in ms. It is started by
 * bash, a small process that forks cheaply as a runtime in Go does, and timed there ($EPOCHREALTIME
 * around the exec), so the cost of forking this benchmark's big Node process is in no path's time.
 */
const scratch = mkdtempSync(join('/dev/shm', 'multinet-bench-'));
// Removed however the run ends (a missing prerequisite or a failed build throws before main's cleanup).
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
let stdinFiles = 0;
const timer = 's=$EPOCHREALTIME; "$0" <"$1" >"$2" 2>&1; rc=$?; e=$EPOCHREALTIME; echo "$rc $s $e"';

/** A file holding a plugin's stdin (written once, read by every run; or rewritten under `name`). */
function stdinFile(stdin: object | string, name = `stdin-${++stdinFiles}`): string {
  const path = join(scratch, `${name}.json`);
  writeFileSync(path, typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  return path;
}

/** What the last runCni printed (a plugin's result). */
function lastOutput(): string {
  return readFileSync(join(scratch, 'out'), 'utf8');
}

function runCni(what: string, file: string, env: Record<string, string>, stdin: string): number {
  const out = join(scratch, 'out');
  const run = spawnSync('bash', ['-c', timer, file, stdin, out], {
    env: { ...plainEnv, CNI_PATH: pluginDir, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const [rc, start, end] = run.stdout.trim().split(' ').map(Number);
  if (run.status !== 0 || rc !== 0)
    throw new Error(`${what} failed (exit ${String(rc)}): ${readFileSync(out, 'utf8')}${run.stderr}`);
  return (end! - start!) * 1000;
}

/** The agent's DaemonSet as helm template renders it: its RBAC (the skeleton's too) and Node flags. */
const agentChart = await chartComponent('agent', []);
/** The agent's Node flags as the chart sets them, or BENCH_AGENT_NODE_OPTIONS to compare. */
const agentNodeOptions = process.env.BENCH_AGENT_NODE_OPTIONS ?? agentChart.env.NODE_OPTIONS ?? '';

/**
 * Starts the lab's agent as the image runs it (the built JavaScript, see main) with the chart's Node flags, and --cpu-prof when --profile-agent asks for it
 * (the profile is written on SIGTERM).
 */
async function startAgent(lab: LocalNode, args: readonly string[], kubeconfig?: string): Promise<void> {
  const dir = flags['profile-agent'];
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = [agentNodeOptions, dir ? `--cpu-prof --cpu-prof-dir=${dir}` : '']
    .join(' ')
    .trim();
  try {
    await lab.startAgent(args, kubeconfig, { command: [nodeBinary, imageEntry], spawner: true });
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

/** The lab's agent and its plugin spawner, whose CPU and memory count as the agent's. */
function agentPids(lab: LocalNode): number[] {
  const pid = lab.agentPid;
  return pid ? [pid, ...childrenNamed(pid, 'multinet-spawner')] : [];
}

/** A way to attach a pod's networks: ADD and DEL for one pod, timed. */
interface CniPath {
  readonly name: string;
  /** The daemon's processes whose CPU is counted per request (the agent's with its spawner's), if any. */
  readonly daemonPids?: () => number[];
  add(pod: Pod): number;
  del(pod: Pod): number;
}

interface Samples {
  readonly add: number[];
  readonly del: number[];
  readonly addCpu: number[];
  readonly delCpu: number[];
}

function checkAttached(pod: Pod, path: string): void {
  const byName = Object.fromEntries(pod.interfaces().map((i) => [i.ifname, i.addresses]));
  const eth0 = byName.eth0?.[0] ?? '';
  const net1 = byName.net1?.[0] ?? '';
  if (!/^198\.51\.100\.\d+\/24$/.test(eth0) || !/^192\.0\.2\.\d+\/24$/.test(net1))
    throw new Error(
      `${path} ADD of ${pod.name}: expected eth0 and net1 with addresses, got ${JSON.stringify(byName)}`,
    );
}

function checkClean(lab: LocalNode, pod: Pod, path: string, macvlan: string): void {
  const left = pod.interfaces();
  const leases = [...lab.leases('podnet'), ...lab.leases(macvlan)];
  if (left.length > 0 || leases.length > 0)
    throw new Error(`${path} DEL of ${pod.name} left ${JSON.stringify({ interfaces: left, leases })}`);
}

/**
 * The delegates, executed as a runtime would execute them without a meta-plugin: as libcni does
 * (containerd and CRI-O use it), DEL hands each plugin the result its ADD printed as prevResult (CNI
 * >= 0.4.0), which the plugins act on (bridge's DEL takes ~3 ms longer with it here).
 */
function directPath(lab: LocalNode, macvlan: Record<string, unknown>): CniPath {
  const networks = { eth0: lab.defaultNetwork(), net1: macvlan };
  const addStdin = { eth0: stdinFile(networks.eth0), net1: stdinFile(networks.net1) };
  const results = new Map<string, string>();
  const plugin = (ifName: 'eth0' | 'net1'): string => join(pluginDir, String(networks[ifName].type));
  const add = (pod: Pod, ifName: 'eth0' | 'net1'): number => {
    const ms = runCni(
      `${ifName} ADD`,
      plugin(ifName),
      { ...pod.env(), CNI_COMMAND: 'ADD', CNI_IFNAME: ifName },
      addStdin[ifName],
    );
    results.set(`${pod.name}/${ifName}`, lastOutput());
    return ms;
  };
  const del = (pod: Pod, ifName: 'eth0' | 'net1'): number => {
    const key = `${pod.name}/${ifName}`;
    const prevResult = JSON.parse(results.get(key) ?? 'null') as unknown;
    results.delete(key);
    const stdin = stdinFile({ ...networks[ifName], ...(prevResult ? { prevResult } : {}) }, `del-${ifName}`);
    return runCni(
      `${ifName} DEL`,
      plugin(ifName),
      { ...pod.env(), CNI_COMMAND: 'DEL', CNI_IFNAME: ifName },
      stdin,
    );
  };
  return {
    name: 'delegates executed directly',
    add: (pod) => add(pod, 'eth0') + add(pod, 'net1'),
    del: (pod) => del(pod, 'net1') + del(pod, 'eth0'),
  };
}

/** A meta-plugin's path: its shim run as a runtime runs it (`stdin` on its standard input), per pod. */
function metaPluginPath(
  name: string,
  shim: string,
  stdin: string,
  daemonPids: () => number[],
  podEnv: (pod: Pod) => Record<string, string>,
): CniPath {
  const file = stdinFile(stdin);
  return {
    name,
    daemonPids,
    add: (pod) => runCni(`${name} ADD`, shim, { ...podEnv(pod), CNI_COMMAND: 'ADD' }, file),
    del: (pod) => runCni(`${name} DEL`, shim, { ...podEnv(pod), CNI_COMMAND: 'DEL' }, file),
  };
}

function multinetPath(lab: LocalNode, podEnv: (pod: Pod) => Record<string, string>): CniPath {
  const name = standalone
    ? 'multinet (shim + agent, standalone)'
    : 'multinet (shim + agent, Kubernetes mode)';
  return metaPluginPath(name, shimPath(), lab.shimStdin(), () => agentPids(lab), podEnv);
}

/** The Node skeleton behind the same Go shim: what any Node daemon adds, doing only the job. */
function skeletonPath(
  lab: LocalNode,
  skeleton: Skeleton,
  podEnv: (pod: Pod) => Record<string, string>,
): CniPath {
  const stdin = lab.shimStdin({ socketPath: skeleton.socket });
  return metaPluginPath(
    `${skeletonName}, behind multinet-cni`,
    shimPath(),
    stdin,
    () => [skeleton.pid],
    podEnv,
  );
}

/** Starts the Node skeleton with the agent's RBAC and Node flags, against the bench's API server. */
async function startSkeletonDaemon(cluster: Cluster, lab: LocalNode): Promise<Skeleton> {
  const account = await cluster.controlPlane.serviceAccountToken(namespace, 'multinet-skeleton', {
    clusterRules: agentChart.clusterRules,
  });
  return startSkeleton({
    dir: lab.dir,
    nodeOptions: agentNodeOptions,
    config: {
      server: cluster.controlPlane.serverUrl,
      caPem: cluster.controlPlane.caPem,
      token: account.token,
      nodeName: lab.nodeName,
      defaultNetwork: lab.defaultNetwork(),
    },
  });
}

/**
 * Wall times of `file` started `runs` times by bash (fork + exec, as a runtime in Go would start it,
 * without the cost of forking this Node process), in ms: bash's $EPOCHREALTIME around each run.
 */
function execTimes(file: string, runs: number, env: Record<string, string>, stdin: string): number[] {
  const script = `for ((i = 0; i < ${runs}; i++)); do s=$EPOCHREALTIME; "$0" <<<"$1" >/dev/null || exit 1; e=$EPOCHREALTIME; echo "$s $e"; done`;
  const run = spawnSync('bash', ['-c', script, file, stdin], {
    env: { ...plainEnv, ...env },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`timing ${file} failed: ${run.stderr}`);
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [s, e] = line.split(' ').map(Number);
      return (e! - s!) * 1000;
    });
}

/** A shim alone: VERSION wall time (median), peak RSS (GNU time), file size, linking (ldd). */
function shimFacts(file: string): { versionMs: number; rssMb: number; sizeMb: number; ldd: string } {
  const stdin = '{"cniVersion":"1.0.0"}';
  const times = execTimes(file, versionRuns, { CNI_COMMAND: 'VERSION' }, stdin);
  const timed = spawnSync('/usr/bin/time', ['-f', '%M', file], {
    input: stdin,
    env: { ...plainEnv, CNI_COMMAND: 'VERSION' },
    encoding: 'utf8',
  });
  const rssKb = Number(/(\d+)\s*$/.exec(timed.stderr ?? '')?.[1] ?? NaN);
  const ldd = spawnSync('ldd', [file], { encoding: 'utf8' });
  return {
    versionMs: median(times),
    rssMb: rssKb / 1024,
    sizeMb: statSync(file).size / 1024 / 1024,
    ldd: `${ldd.stdout}${ldd.stderr}`.trim().split('\n')[0]!.trim(),
  };
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function ms(value: number): string {
  return `${value >= 0 ? '' : '-'}${Math.abs(value).toFixed(1)} ms`;
}

function spread(values: readonly number[]): string {
  return `${ms(percentile(values, 50))} (p90 ${ms(percentile(values, 90))}, p99 ${ms(percentile(values, 99))})`;
}

function paired(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, i) => value - b[i]!);
}

interface Cluster {
  readonly controlPlane: ControlPlane;
  readonly core: CoreV1Api;
  readonly uids: Map<string, string>;
}

async function startCluster(macvlan: Record<string, unknown>): Promise<Cluster> {
  say(
    `the agent's NODE_OPTIONS: ${JSON.stringify(agentNodeOptions)} (the chart's agent.nodeOptions unless BENCH_AGENT_NODE_OPTIONS)`,
  );
  say('starting kube-apiserver and etcd');
  const controlPlane = await startControlPlane({
    kill: (pid, signal) => process.kill(pid, signal),
    cacheDir: defaultCacheDir(process.env, homedir()),
    env: process.env,
    log: (line) => say(line),
  });
  const kc = controlPlane.kubeConfig();
  await installCrds(kc);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // macvlan-conf, and the same network as a device network (its leases in the same host-local dir).
  for (const [name, annotations] of [
    ['macvlan-conf', {}],
    ['vf-macvlan', { [resourceNameAnnotation]: deviceResource }],
  ] as const) {
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: nadGroup,
      version: nadVersion,
      namespace,
      plural: nadPlural,
      body: {
        apiVersion: `${nadGroup}/${nadVersion}`,
        kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace, annotations },
        spec: { config: JSON.stringify({ ...macvlan, name: 'macvlan-conf' }) },
      },
    });
  }
  return { controlPlane, core, uids: new Map() };
}

/**
 * The Pod objects, on the lab's node with the networks annotation, before any CNI call: each name
 * selecting macvlan-conf, and name-dev selecting the device network (requesting its device).
 */
async function createPods(cluster: Cluster, lab: LocalNode, names: readonly string[]): Promise<void> {
  for (const base of names) {
    for (const [name, network] of [
      [base, 'macvlan-conf'],
      [`${base}${deviceSuffix}`, 'vf-macvlan'],
    ] as const) {
      const device = network === 'vf-macvlan' ? { limits: { [deviceResource]: '1' } } : {};
      const pod = await cluster.core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, namespace, annotations: { 'k8s.v1.cni.cncf.io/networks': network } },
          spec: {
            nodeName: lab.nodeName,
            containers: [{ name: 'app', image: 'registry.invalid/app:1', resources: device }],
          },
        },
      });
      cluster.uids.set(name, pod.metadata!.uid!);
    }
  }
}

/** The kubelet's pod-resources API as the device path sees it: one device per name-dev pod of `podNamespace`. */
async function startKubeletStub(
  lab: LocalNode,
  names: readonly string[],
  podNamespace: string,
): Promise<KubeletStub> {
  say('building (cached) and starting the kubelet stub (pod-resources API)');
  kubeletStubBinary();
  return KubeletStub.start(lab.dir, {
    pods: names.map((base) => ({
      namespace: podNamespace,
      name: `${base}${deviceSuffix}`,
      containers: [{ name: 'app', devices: [{ resourceName: deviceResource, deviceIds: [`vf-${base}`] }] }],
    })),
  });
}

/**
 * Multus thick, run by the anchor harness: its daemon against the same API server with Multus' RBAC,
 * its own conf dir holding the same default network (so neither meta-plugin sees the other's file).
 */
async function startMultus(cluster: Cluster, lab: LocalNode): Promise<MultusDaemon> {
  say('building (cached) and starting Multus thick');
  const binaries = await ensureMultus({
    cacheDir: defaultCacheDir(process.env, homedir()),
    env: process.env,
    log: (line) => say(line),
  });
  const account = await cluster.controlPlane.serviceAccountToken(namespace, 'multus', {
    clusterRules: multusClusterRules,
  });
  const confDir = join(lab.dir, 'multus.d');
  mkdirSync(confDir);
  copyFileSync(join(lab.confDir, '10-podnet.conflist'), join(confDir, '10-podnet.conflist'));
  return startMultusDaemon({
    binaries,
    apiServer: {
      server: cluster.controlPlane.serverUrl,
      caPem: cluster.controlPlane.caPem,
      token: account.token,
    },
    nodeName: lab.nodeName,
    confDir,
    binDir: pluginDir,
    runDir: lab.dir,
    env: process.env,
  });
}

function multusPath(daemon: MultusDaemon, podEnv: (pod: Pod) => Record<string, string>): CniPath {
  const stdin = JSON.stringify(daemon.config());
  return metaPluginPath(
    'Multus thick (multus-shim + multus-daemon)',
    daemon.shim,
    stdin,
    () => [daemon.pid],
    podEnv,
  );
}

function average(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Runs every path for every pod, in an order rotated per pod; the warm-up pods are not counted. */
/** ADD then DEL of each pod through every path, in an order rotated per pod; `count: false` only warms up. */
function measure(
  lab: LocalNode,
  paths: readonly CniPath[],
  podNames: readonly string[],
  count: boolean,
): Map<CniPath, Samples> {
  const samples = new Map<CniPath, Samples>(
    paths.map((p) => [p, { add: [], del: [], addCpu: [], delCpu: [] }]),
  );
  for (const [i, name] of podNames.entries()) {
    const pod = lab.newPod('macvlan-conf', name);
    for (let k = 0; k < paths.length; k++) {
      const path = paths[(i + k) % paths.length]!;
      const pids = path.daemonPids?.() ?? [];
      const cpu = (): number => pids.reduce((total, pid) => total + cpuMs(pid), 0);
      const cpu0 = cpu();
      const addMs = path.add(pod);
      const cpu1 = cpu();
      checkAttached(pod, path.name);
      const cpu2 = cpu();
      const delMs = path.del(pod);
      const cpu3 = cpu();
      checkClean(lab, pod, path.name, 'macvlan-conf');
      if (!count) continue;
      const s = samples.get(path)!;
      s.add.push(addMs);
      s.del.push(delMs);
      s.addCpu.push(cpu1 - cpu0);
      s.delCpu.push(cpu3 - cpu2);
    }
    // Done with this sandbox: its netns goes (the lab's cleanup skips what is gone).
    spawnSync('ip', ['netns', 'del', pod.netns]);
    if (count && (i + 1) % 50 === 0) say(`  ${i + 1}/${podNames.length}`);
  }
  return samples;
}

function total(s: Samples): number[] {
  return s.add.map((a, i) => a + s.del[i]!);
}

/** What a series (summed over the series that match `labels`) grew by between two scrapes. */
function grew(
  before: readonly Series[],
  after: readonly Series[],
  name: string,
  labels: Readonly<Record<string, string>>,
): number {
  return (metricValue(after, name, labels) ?? 0) - (metricValue(before, name, labels) ?? 0);
}

/**
 * Where multinet's time goes, as means per request (the agent's histograms have sums and counts, not
 * the per-pod pairs above): the path as the bench times it, the agent's part (its request histogram),
 * the delegate runs in it beside the same delegates executed directly, the network-status write, and
 * what is left for the shim's exec and the socket.
 */
function breakdown(direct: Samples, ours: Samples, before: Series[], after: Series[]): string {
  const per = (command: string, name: string, labels: Record<string, string> = {}): number => {
    const requests = grew(before, after, 'multinet_agent_cni_request_duration_seconds_count', { command });
    return (grew(before, after, name, labels) * 1000) / requests;
  };
  const agent = (command: string): number =>
    per(command, 'multinet_agent_cni_request_duration_seconds_sum', { command });
  const delegates = (command: string): number =>
    per(command, 'multinet_agent_delegate_duration_seconds_sum', { command });
  const status = standalone
    ? undefined
    : per('ADD', 'multinet_agent_network_status_write_duration_seconds_sum', { outcome: 'ok' });
  const rows: Array<[string, number | undefined, number | undefined]> = [
    ['through the shim (the bench times the exec)', average(ours.add), average(ours.del)],
    ['in the agent (its request histogram)', agent('ADD'), agent('DEL')],
    ['  delegate plugin runs in the agent', delegates('ADD'), delegates('DEL')],
    ['  the same delegates executed directly', average(direct.add), average(direct.del)],
    ['  network-status write (Kubernetes mode)', status, undefined],
    [
      '  the rest of the agent',
      agent('ADD') - delegates('ADD') - (status ?? 0),
      agent('DEL') - delegates('DEL'),
    ],
    ['the shim, its exec and the socket', average(ours.add) - agent('ADD'), average(ours.del) - agent('DEL')],
  ];
  const cell = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : ms(v));
  return [
    row(['multinet, mean per request', 'ADD', 'DEL']),
    row(['---', '---', '---']),
    ...rows.map(([what, add, del]) => row([what, cell(add), cell(del)])),
  ].join('\n');
}

function report(paths: readonly CniPath[], samples: Map<CniPath, Samples>): string {
  const direct = samples.get(paths[0]!)!;
  const lines = [
    row([
      'path',
      'ADD p50',
      'DEL p50',
      'ADD+DEL p50',
      'added: ADD',
      'added: DEL',
      'added: ADD+DEL',
      'daemon CPU per ADD / DEL',
    ]),
    row(Array.from({ length: 8 }, () => '---')),
  ];
  for (const [i, path] of paths.entries()) {
    const s = samples.get(path)!;
    lines.push(
      row([
        path.name,
        ms(median(s.add)),
        ms(median(s.del)),
        ms(median(total(s))),
        i === 0 ? '—' : spread(paired(s.add, direct.add)),
        i === 0 ? '—' : spread(paired(s.del, direct.del)),
        i === 0 ? '—' : spread(paired(total(s), total(direct))),
        path.daemonPids ? `${ms(average(s.addCpu))} / ${ms(average(s.delCpu))}` : '—',
      ]),
    );
  }
  return lines.join('\n');
}

function shimReport(shims: ReadonlyArray<readonly [string, string]>): string {
  const lines = [
    row(['shim', 'VERSION median', 'peak RSS', 'file', 'ldd']),
    row(['---', '---', '---', '---', '---']),
  ];
  for (const [name, file] of shims) {
    const facts = shimFacts(file);
    lines.push(
      row([
        name,
        ms(facts.versionMs),
        `${facts.rssMb.toFixed(1)} MB`,
        `${facts.sizeMb.toFixed(1)} MB`,
        facts.ldd,
      ]),
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  requireNetnsPrerequisites();
  if (withMultus) {
    const missing = missingDaemonPrerequisites(process.env, process.getuid?.());
    if (missing.length > 0) throw new Error(`Multus' daemon cannot run here; missing: ${missing.join('; ')}`);
  }
  shimPath();
  buildImageCode(say);
  const lab = new LocalNode('bench');
  let cluster: Cluster | undefined;
  let multus: MultusDaemon | undefined;
  let skeleton: Skeleton | undefined;
  let kubelet: KubeletStub | undefined;
  const onExit = (): void => {
    multus?.stopSync();
    LocalNode.destroyAllSync();
  };
  process.on('exit', onExit);
  try {
    const macvlan = {
      ...lab.seedMacvlanNad(),
      ipam: { type: 'host-local', subnet: '192.0.2.0/24', dataDir: lab.ipamDir },
    };
    // The first pods warm caches (page cache, plugin VERSION probes, JIT); they are not counted.
    const warmNames = Array.from({ length: 5 }, (_, i) => `warm${i}`);
    const podNames = Array.from({ length: pods }, (_, i) => `pod${i + 1}`);
    // The agent's /metrics: where its part of each request goes (see breakdown).
    const probePort = await freePort();
    const agentArgs = ['--log-level', 'warn', '--probe-listen', `127.0.0.1:${probePort}`];
    const direct = directPath(lab, macvlan);
    const paths: CniPath[] = [direct];
    let ours: CniPath;
    let multusRoute: CniPath | undefined;
    let skeletonRoute: CniPath | undefined;
    let deviceRoute: CniPath | undefined;
    if (standalone) {
      lab.writeNad('macvlan-conf', macvlan);
      // The device network and the name-dev pods that select it, as files (JSON is YAML).
      writeFileSync(
        join(lab.nadDir, 'default-vf-macvlan.yaml'),
        JSON.stringify({
          apiVersion: `${nadGroup}/${nadVersion}`,
          kind: 'NetworkAttachmentDefinition',
          metadata: {
            name: 'vf-macvlan',
            namespace: 'default',
            annotations: { [resourceNameAnnotation]: deviceResource },
          },
          spec: { config: JSON.stringify({ ...macvlan, name: 'macvlan-conf' }) },
        }),
      );
      for (const base of [...warmNames, ...podNames]) {
        const name = `${base}${deviceSuffix}`;
        writeFileSync(
          join(lab.podDir, `${name}.yaml`),
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name,
              namespace: 'default',
              uid: `uid-${name}`,
              annotations: { 'k8s.v1.cni.cncf.io/networks': 'vf-macvlan' },
            },
          }),
        );
      }
      kubelet = await startKubeletStub(lab, [...warmNames, ...podNames], 'default');
      await startAgent(lab, [...agentArgs, '--pod-resources-socket', kubelet.socket]);
      ours = multinetPath(lab, (pod) => pod.env());
      deviceRoute = devicePath(lab, (pod) => ({
        ...pod.env(),
        CNI_ARGS: podCniArgs({
          namespace: 'default',
          name: `${pod.name}${deviceSuffix}`,
          uid: `uid-${pod.name}${deviceSuffix}`,
          containerId: pod.containerId,
        }),
      }));
      paths.push(ours);
    } else {
      const c = (cluster = await startCluster(macvlan));
      say(`creating ${warmNames.length + podNames.length} Pod objects on node ${lab.nodeName}`);
      await createPods(c, lab, [...warmNames, ...podNames]);
      const podEnvAs =
        (suffix: string) =>
        (pod: Pod): Record<string, string> => ({
          ...pod.env(),
          CNI_ARGS: podCniArgs({
            namespace,
            name: `${pod.name}${suffix}`,
            uid: c.uids.get(`${pod.name}${suffix}`)!,
            containerId: pod.containerId,
          }),
        });
      const podEnv = podEnvAs('');
      if (withMultus) multus = await startMultus(c, lab);
      skeleton = await startSkeletonDaemon(c, lab);
      kubelet = await startKubeletStub(lab, [...warmNames, ...podNames], namespace);
      await startAgent(
        lab,
        [...agentArgs, '--pod-resources-socket', kubelet.socket],
        c.controlPlane.adminKubeconfigPath,
      );
      if (multus) multusRoute = multusPath(multus, podEnv);
      skeletonRoute = skeletonPath(lab, skeleton, podEnv);
      ours = multinetPath(lab, podEnv);
      deviceRoute = devicePath(lab, podEnvAs(deviceSuffix));
      paths.push(...(multusRoute ? [multusRoute] : []), skeletonRoute, ours);
    }
    say(
      `${pods} pods, default network (bridge) + 1 macvlan network each; paths: ${paths.map((p) => p.name).join('; ')}`,
    );
    say(`load before: ${loadAverage()}`);
    measure(lab, paths, warmNames, false);
    const before = await scrapeMetrics(probePort);
    const samples = measure(lab, paths, podNames, true);
    const after = await scrapeMetrics(probePort);
    say(`load after: ${loadAverage()}`);
    process.stdout.write(`${report(paths, samples)}\n\n`);
    process.stdout.write(`${breakdown(samples.get(direct)!, samples.get(ours)!, before, after)}\n\n`);
    process.stdout.write(
      `${shimReport([
        ['/bin/true (any exec, for reference)', '/bin/true'],
        ...(multus ? [['multus-shim', multus.shim] as const] : []),
        ['multinet-cni', shimPath()],
      ])}\n\n`,
    );
    const spawner = agentPids(lab).slice(1).map(memory);
    const peaks = [
      `multinet agent ${memory(lab.agentPid!).hwmMb.toFixed(0)} MB + its spawner ${spawner.map((m) => m.hwmMb.toFixed(1)).join(', ') || 'none'} MB`,
    ];
    if (skeleton) peaks.unshift(`${skeletonName} ${memory(skeleton.pid).hwmMb.toFixed(0)} MB`);
    if (multus) peaks.unshift(`multus-daemon ${memory(multus.pid).hwmMb.toFixed(0)} MB`);
    process.stdout.write(`daemon peak RSS (VmHWM): ${peaks.join(', ')}\n`);
    // The device network on its own, after the rest (so the agent's histograms above are the plain path's):
    // multinet's path and the device path, pod by pod in rotation, and the agent's List calls around them.
    let device: ReturnType<typeof deviceLookup> | undefined;
    if (deviceRoute) {
      say(`the device network: ${pods} pods, multinet's path and the device path`);
      measure(lab, [ours, deviceRoute], warmNames, false);
      const beforeDevice = await scrapeMetrics(probePort);
      const deviceSamples = measure(lab, [ours, deviceRoute], podNames, true);
      const afterDevice = await scrapeMetrics(probePort);
      device = deviceLookup(
        deviceSamples.get(ours)!,
        deviceSamples.get(deviceRoute)!,
        beforeDevice,
        afterDevice,
      );
    }
    if (device) process.stdout.write(`${device.text}\n`);
    if (burst > 0) await runBurst(lab, burst);
    const addedBy = (path: CniPath): number[] =>
      paired(total(samples.get(path)!), total(samples.get(direct)!));
    const added = addedBy(ours);
    const result = [
      `added_p50_ms=${percentile(added, 50).toFixed(1)}`,
      `added_p99_ms=${percentile(added, 99).toFixed(1)}`,
    ];
    const m50 = multusRoute ? percentile(addedBy(multusRoute), 50) : undefined;
    if (multusRoute)
      result.push(
        `multus_added_p50_ms=${m50!.toFixed(1)}`,
        `multus_added_p99_ms=${percentile(addedBy(multusRoute), 99).toFixed(1)}`,
        `ratio_vs_multus=${(percentile(added, 50) / m50!).toFixed(2)}`,
      );
    if (skeletonRoute) {
      const skeletonAdded = addedBy(skeletonRoute);
      const s50 = percentile(skeletonAdded, 50);
      result.push(
        `skeleton_added_p50_ms=${s50.toFixed(1)}`,
        `skeleton_added_p99_ms=${percentile(skeletonAdded, 99).toFixed(1)}`,
        ...(m50 === undefined ? [] : [`skeleton_ratio_vs_multus=${(s50 / m50).toFixed(2)}`]),
        `over_skeleton_p50_ms=${(percentile(added, 50) - s50).toFixed(1)}`,
      );
    }
    if (device) result.push(...device.result);
    process.stdout.write(`RESULT ${result.join(' ')}\n`);
  } finally {
    process.off('exit', onExit);
    await kubelet?.stop();
    await skeleton?.stop();
    await multus?.stop();
    // A clean stop (SIGTERM) first, so that an agent run with NODE_OPTIONS=--cpu-prof writes its profile.
    await lab.stopAgent('SIGTERM');
    await lab.destroy();
    await cluster?.controlPlane.stop();
  }
}

/** The device path: multinet's shim and agent, the pod named name-dev (it selects the device network). */
function devicePath(lab: LocalNode, podEnv: (pod: Pod) => Record<string, string>): CniPath {
  return metaPluginPath(
    'multinet, a device network (resourceName: the pod-resources lookup)',
    shimPath(),
    lab.shimStdin(),
    () => agentPids(lab),
    podEnv,
  );
}

/**
 * What the pod-resources lookup adds to an ADD: the device path's ADD minus multinet's for the same pod
 * (the same delegates, the same netns; only the lookup and the device injection differ), and the agent's
 * own count and time of its List calls (its histogram).
 */
function deviceLookup(
  plain: Samples,
  device: Samples,
  before: Series[],
  after: Series[],
): { text: string; result: string[] } {
  const added = paired(device.add, plain.add);
  const lists = grew(before, after, 'multinet_agent_pod_resources_duration_seconds_count', { outcome: 'ok' });
  const failed = grew(before, after, 'multinet_agent_pod_resources_duration_seconds_count', {
    outcome: 'error',
  });
  const listMs =
    (grew(before, after, 'multinet_agent_pod_resources_duration_seconds_sum', { outcome: 'ok' }) * 1000) /
    lists;
  // The histogram's buckets: how many List calls took at most 1 and 2 ms (the mean is the outliers' under load).
  const within = (le: string): string =>
    `${Math.round((grew(before, after, 'multinet_agent_pod_resources_duration_seconds_bucket', { outcome: 'ok', le }) / lists) * 100)}%`;
  if (lists !== device.add.length || failed > 0)
    throw new Error(
      `expected one pod-resources List per device ADD (${device.add.length}), the agent made ${lists} (${failed} failed)`,
    );
  return {
    text: [
      `pod-resources lookup (device network ADD minus the same ADD without a resourceName, per pod): ${spread(added)};`,
      `  the agent's List calls: ${lists} for ${device.add.length} device ADDs (one per pod), mean ${ms(listMs)} each, ${within('0.001')} within 1 ms, ${within('0.002')} within 2 ms`,
      `  (the kubelet stub lists ${device.add.length + 5} pods; target: <= 2 ms p50)`,
    ].join('\n'),
    result: [
      `device_lookup_added_p50_ms=${percentile(added, 50).toFixed(1)}`,
      `pod_resources_list_ms=${listMs.toFixed(2)}`,
    ],
  };
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Many concurrent ADDs through the multinet shim (as a node starting many pods at once), for the agent's peak memory. */
async function runBurst(lab: LocalNode, count: number): Promise<void> {
  const burstPods = Array.from({ length: count }, (_, i) => lab.newPod(undefined, `burst${i}`));
  const stdin = lab.shimStdin();
  const exec = nodeExec({ killGroup: (pid, signal) => process.kill(-pid, signal) });
  const run = (pod: Pod, command: string): Promise<void> =>
    exec
      .run({
        file: shimPath(),
        env: { ...plainEnv, CNI_PATH: pluginDir, ...pod.env(), CNI_COMMAND: command },
        stdin,
        timeoutMs: 600_000,
      })
      .then((r) => {
        if (r.code !== 0) throw new Error(`burst ${command} of ${pod.name} failed: ${r.stdout}`);
      });
  const started = performance.now();
  await Promise.all(burstPods.map((pod) => run(pod, 'ADD')));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(burstPods.map((pod) => run(pod, 'DEL')));
  process.stdout.write(
    `burst: ${count} concurrent ADDs (default network only) in ${seconds.toFixed(1)} s; agent peak RSS ${memory(lab.agentPid!).hwmMb.toFixed(0)} MB\n`,
  );
}

await main();
