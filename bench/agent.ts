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
 * with VmRSS and VmHWM after each phase (and Multus' thick daemon beside it, in the same run, when the
 * anchor harness is available). The last line is
 *
 *   RESULT agent_peak_mb=<max VmHWM> agent_growth_mb=<VmHWM after the trials − after the pods> multus_peak_mb=<m>
 *
 * Options: --nads N --pods P --trials T --bursts B --burst K; --heap-snapshots DIR writes a heap snapshot
 * of the agent after the pods and after the trials (for finding what it keeps); BENCH_NODE_OPTIONS
 * replaces the chart's NODE_OPTIONS and BENCH_AGENT_ENV ("NAME=value ...") adds environment variables
 * and BENCH_NODE_ARGS node flags on the command line (to compare V8 and malloc settings).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { cniEndpoint, type CniRequest } from '../lib/cni/request.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../lib/nad.ts';
import { nodeStateGroup, nodeStatePlural, nodeStateVersion } from '../lib/node-state.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { startControlPlane } from '../dev/controlplane/controlplane.ts';
import { freePort } from '../dev/controlplane/readiness.ts';
import { installCrds } from '../platform/kube/crds.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { http } from '../platform/nodejs/http.ts';
import { LocalNode, pluginDir, requireNetnsPrerequisites, type Pod } from '../playground/local-node.ts';
import {
  benchNadConfig,
  buildImageCode,
  chartComponent,
  componentKubeconfig,
  cpuMs,
  envPairs,
  memory,
  startComponent,
  type Memory,
} from './chart-process.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nads: { type: 'string', default: '500' },
    pods: { type: 'string', default: '100' },
    trials: { type: 'string', default: '800' },
    bursts: { type: 'string', default: '2' },
    burst: { type: 'string', default: '50' },
    'heap-snapshots': { type: 'string' },
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

interface Phase {
  readonly name: string;
  readonly agent: Memory;
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

say('starting a control plane');
const cp = await startControlPlane({
  cacheDir: defaultCacheDir(process.env, homedir()),
  env: process.env,
  log: say,
});
const lab = new LocalNode('agentbench');
const admin = new KubeRestClient(cp.kubeConfig(), { qps: 0, maxSockets: 16, fieldManager: 'bench' });
let agentPid: number | undefined;
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
  const pid = agentPid;
  const metric = async (pattern: RegExp): Promise<number | undefined> => {
    const text = await fetch(`http://127.0.0.1:${probePort}/metrics`).then(
      (r) => r.text(),
      () => '',
    );
    const line = text.split('\n').find((l) => pattern.test(l));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
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
  const phases: Phase[] = [];
  const measure = async (name: string): Promise<void> => {
    const agent = memory(pid);
    phases.push({ name, agent });
    const mb = async (pattern: RegExp): Promise<string> =>
      (((await metric(pattern)) ?? 0) / 2 ** 20).toFixed(1);
    const heap = `V8 heap ${await mb(/^multinet_agent_nodejs_heap_size_used_bytes /)} used of ${await mb(/^multinet_agent_nodejs_heap_size_total_bytes /)}, new space ${await mb(/^multinet_agent_nodejs_heap_space_size_total_bytes\{space="new"\}/)}, external ${await mb(/^multinet_agent_nodejs_external_memory_bytes /)}`;
    say(
      `${name}: agent VmRSS ${agent.rssMb.toFixed(1)} MB (anon ${agent.anonMb.toFixed(1)}, file ${agent.fileMb.toFixed(1)}), VmHWM ${agent.hwmMb.toFixed(1)} MB (${heap})`,
    );
  };

  await until('the agent to be ready (informers synced)', () =>
    fetch(`http://127.0.0.1:${probePort}/readyz`).then(
      (r) => r.ok,
      () => false,
    ),
  );
  say(`agent ready (pid ${pid}, NODE_OPTIONS=${JSON.stringify(nodeOptions)})`);
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
  const nodeState = `/apis/${nodeStateGroup}/${nodeStateVersion}/${nodeStatePlural}/${lab.nodeName}`;
  await until(`the agent to report ${nadCount} NADs`, async () => {
    const state = await admin
      .request<{ status?: { networkCount?: number } }>({ method: 'GET', path: nodeState })
      .catch(() => undefined);
    return state?.status?.networkCount === nadCount;
  });
  await measure(`${nadCount} NADs`);

  // Pods on the agent's node, each with a network namespace of the local node.
  const pods: Array<{ pod: Pod; uid: string }> = [];
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
    async () => (await metric(/^multinet_agent_cached_objects\{kind="Pod"\}/)) === podCount,
  );
  await measure(`${podCount} pods`);
  await snapshot('after the pods');

  const conf = lab.generatedConfig();
  const network = { ...conf.plugins[0], name: conf.name, cniVersion: conf.cniVersion };
  const request = (command: 'ADD' | 'DEL', { pod, uid }: { pod: Pod; uid: string }): CniRequest => ({
    command,
    containerId: pod.containerId,
    netns: pod.netnsPath,
    ifName: 'eth0',
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId};K8S_POD_UID=${uid}`,
    path: pluginDir,
    config: network,
  });
  /** ADD, then check that the pod's namespace has both interfaces (the runtime only sees eth0's result). */
  const add = async (target: { pod: Pod; uid: string }, check = true): Promise<void> => {
    const reply = await post(lab.socket, request('ADD', target));
    if (reply.error) throw new Error(`ADD of ${target.pod.name} failed: ${reply.error.msg}`);
    if (!check) return;
    const names = target.pod.interfaces().map((i) => i.ifname);
    if (!names.includes('eth0') || !names.includes('net1'))
      throw new Error(`after ADD, ${target.pod.name} has ${names.join(', ')} instead of eth0 and net1`);
  };
  const del = async (target: { pod: Pod; uid: string }): Promise<void> => {
    const reply = await post(lab.socket, request('DEL', target));
    if (reply.error) throw new Error(`DEL of ${target.pod.name} failed: ${reply.error.msg}`);
  };

  const cpuBefore = cpuMs(pid);
  const trialsStarted = performance.now();
  for (let t = 0; t < trials; t++) {
    const target = pods[t % podCount]!;
    await add(target);
    await del(target);
    if ((t + 1) % 200 === 0)
      say(`  ${t + 1}/${trials} ADD+DEL, agent VmRSS ${memory(pid).rssMb.toFixed(1)} MB`);
  }
  const trialMs = (performance.now() - trialsStarted) / trials;
  const trialCpuMs = (cpuMs(pid) - cpuBefore) / trials;
  await measure(`${trials} ADD+DEL`);
  await snapshot('after the trials');

  for (let b = 0; b < bursts; b++) {
    const targets = pods.slice(0, burstSize);
    await Promise.all(targets.map((target) => add(target, false)));
    for (const target of targets)
      if (target.pod.interfaces().length !== 2)
        throw new Error(`burst ADD of ${target.pod.name} left ${target.pod.interfaces().length} interfaces`);
    await Promise.all(targets.map(del));
  }
  await measure(`${bursts} × ${burstSize} concurrent ADDs`);

  const peak = Math.max(...phases.map((p) => p.agent.hwmMb));
  const afterPods = phases.find((p) => p.name === `${podCount} pods`)!.agent;
  const afterTrials = phases.find((p) => p.name === `${trials} ADD+DEL`)!.agent;
  process.stdout.write(
    `\nagent: ADD+DEL ${trialMs.toFixed(1)} ms each, agent CPU ${trialCpuMs.toFixed(1)} ms each; NODE_OPTIONS=${JSON.stringify(nodeOptions)} ${[...nodeArgs, process.env.BENCH_AGENT_ENV ?? ''].join(' ')}\n\n`,
  );
  process.stdout.write(`| daemon (MB, VmHWM / VmRSS) | ${phases.map((p) => p.name).join(' | ')} |\n`);
  process.stdout.write(`| --- |${phases.map(() => ' --- |').join('')}\n`);
  process.stdout.write(
    `| multinet agent | ${phases.map((p) => `${p.agent.hwmMb.toFixed(0)} / ${p.agent.rssMb.toFixed(0)}`).join(' | ')} |\n\n`,
  );
  result = `RESULT agent_peak_mb=${peak.toFixed(1)} agent_growth_mb=${(afterTrials.hwmMb - afterPods.hwmMb).toFixed(1)} agent_rss_growth_mb=${(afterTrials.rssMb - afterPods.rssMb).toFixed(1)} multus_peak_mb=n/a`;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  agentPid = undefined;
} catch (err) {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (agentPid !== undefined) process.kill(agentPid, 'SIGKILL');
  admin.close();
  await lab.destroy();
  await cp.stop();
}
if (result) process.stdout.write(`${result}\n`);
process.exitCode = exitCode;
