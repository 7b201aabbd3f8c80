/**
 * `npm run bench:webhook`: the webhook's memory with 5,000 NADs in its cache, and its AdmissionReview
 * throughput and latency on one core. A fresh control plane holds the NADs (the fixtures' world, whose
 * macvlan-conf, static-ips and shared/bridge-net the reviews select, plus 5,000 others in 50
 * namespaces); the webhook runs as the Helm chart does (bench/chart-process.ts: the built image code,
 * the Deployment's args and env, self-managed certificates in its Secret, the chart's RBAC), listening
 * on 127.0.0.1 and pinned to CPU 0. Once it is ready (caches synced), autocannon, pinned to CPU 1, posts
 * pod reviews that select 3 networks each over 8 HTTPS keep-alive connections, as the API server calls
 * (`/validate/pods?timeout=10s`); every answer must be "allowed" (checked in /metrics). The last line is
 *
 *   RESULT reviews_per_s=<n> p99_ms=<m> rss_mb=<VmRSS with the NADs cached> peak_rss_mb=<VmHWM>
 *
 * Options: --nads N (5000). Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (8), BENCH_NODE_OPTIONS
 * (replaces the chart's NODE_OPTIONS for the webhook).
 */
import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { parseManifests } from '../lib/k8s/manifests.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../lib/nad.ts';
import { defaultCacheDir } from '../dev/binaries.ts';
import { eventuallyWhileRunning, httpOk } from '../dev/eventually.ts';
import { startControlPlane } from '../dev/controlplane/controlplane.ts';
import { freePort } from '../dev/controlplane/readiness.ts';
import { installCrds } from '../dev/controlplane/crds.ts';
import { KubeRestClient } from '../platform/kube/rest.ts';
import { readFixture } from '../test/fixtures.ts';
import { secretKeys } from '../webhooks/certs/self-managed.ts';
import { webhookDefaults } from '../webhooks/webhook-configuration.ts';
import {
  benchNadConfig,
  buildImageCode,
  chartComponent,
  chartNamespace,
  componentKubeconfig,
  startComponent,
} from './chart-process.ts';
import { cpuMs, memory } from './proc.ts';
import { metricValue, parseMetrics } from './metrics.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { nads: { type: 'string', default: '5000' } },
});
const nadCount = Number(values.nads);
const namespaceCount = 50;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
const say = (line: string): void => void process.stderr.write(`[bench:webhook] ${line}\n`);

function pin(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const networks = JSON.stringify([
  { name: 'macvlan-conf', interface: 'data0' },
  { name: 'static-ips', ips: ['198.51.100.10/24'] },
  { namespace: 'shared', name: 'bridge-net' },
]);

/** A realistic pod (a Deployment's replica) as the API server sends it; `[<id>]` becomes a unique uid. */
const body = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'bench-[<id>]',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'default',
    operation: 'CREATE',
    userInfo: {
      username: 'system:serviceaccount:kube-system:replicaset-controller',
      groups: ['system:serviceaccounts'],
    },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'storage-client-7d9c6b5f4-',
        namespace: 'default',
        labels: { app: 'storage-client', 'pod-template-hash': '7d9c6b5f4' },
        annotations: { 'k8s.v1.cni.cncf.io/networks': networks },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'storage-client-7d9c6b5f4',
            uid: 'b4c1d0e2-8f7a-4c3b-9d2e-1a0b9c8d7e6f',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'registry.example/storage-client:1.4.2',
            ports: [{ containerPort: 8080, protocol: 'TCP' }],
            env: [{ name: 'MODE', value: 'production' }],
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
            volumeMounts: [
              {
                name: 'kube-api-access',
                mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
                readOnly: true,
              },
            ],
            terminationMessagePath: '/dev/termination-log',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        volumes: [
          {
            name: 'kube-api-access',
            projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] },
          },
        ],
        restartPolicy: 'Always',
        dnsPolicy: 'ClusterFirst',
        serviceAccountName: 'default',
        schedulerName: 'default-scheduler',
        tolerations: [
          {
            key: 'node.kubernetes.io/not-ready',
            operator: 'Exists',
            effect: 'NoExecute',
            tolerationSeconds: 300,
          },
        ],
      },
      status: {},
    },
    oldObject: null,
    dryRun: false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  },
});

function counter(text: string, verdict: string): number {
  return metricValue(parseMetrics(text), 'multinet_webhook_reviews_total', { verdict }) ?? 0;
}

const nadsPath = (namespace: string): string =>
  `/apis/${nadGroup}/${nadVersion}/namespaces/${namespace}/${nadPlural}`;

buildImageCode(say);
const chart = await chartComponent('webhook', [
  'listen',
  'probe-listen',
  'service-name',
  'service-namespace',
  'service-port',
]);
const nodeOptions = process.env.BENCH_NODE_OPTIONS ?? chart.env.NODE_OPTIONS ?? '';
say('starting a control plane');
const cp = await startControlPlane({
  kill: (pid, signal) => process.kill(pid, signal),
  cacheDir: defaultCacheDir(process.env, homedir()),
  env: process.env,
  log: say,
});
const admin = new KubeRestClient(cp.kubeConfig(), { qps: 0, maxSockets: 32, fieldManager: 'bench' });
let webhookPid: number | undefined;
let exitCode = 0;
let result: string | undefined;
try {
  await installCrds(cp.kubeConfig());
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-${String(i).padStart(2, '0')}`);
  for (const name of ['shared', ...namespaces])
    await admin.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } });
  // The fixtures' world: the NADs the reviews select (and a few others), and its NodeNetworkStates.
  const world = [
    ...parseManifests(readFixture('seed', 'macvlan-conf.nad.yaml')),
    ...parseManifests(readFixture('admission', 'world', 'base.yaml')),
  ].map((d) => d.object as { kind: string; metadata: { name: string; namespace?: string } });
  for (const object of world) {
    if (object.kind === 'NetworkAttachmentDefinition')
      await admin.request({
        method: 'POST',
        path: nadsPath(object.metadata.namespace ?? 'default'),
        body: object,
      });
    else
      await admin.request({
        method: 'POST',
        path: '/apis/multinet.io/v1alpha1/nodenetworkstates',
        body: object,
      });
  }
  say(`creating ${nadCount} NADs in ${namespaceCount} namespaces`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < nadCount; i = next++)
        await admin.request({
          method: 'POST',
          path: nadsPath(namespaces[i % namespaceCount]!),
          body: {
            apiVersion: nadApiVersion,
            kind: nadKind,
            metadata: { name: `net-${String(i).padStart(5, '0')}` },
            spec: { config: JSON.stringify(benchNadConfig(i)) },
          },
        });
    }),
  );

  const kubeconfig = await componentKubeconfig(cp, admin, chart, join(cp.dir, 'webhook-credentials'));
  const port = await freePort();
  const probePort = await freePort();
  const webhook = startComponent(
    chart,
    [
      '--kubeconfig',
      kubeconfig,
      '--listen',
      `127.0.0.1:${port}`,
      '--url',
      `https://127.0.0.1:${port}`,
      '--probe-listen',
      `127.0.0.1:${probePort}`,
    ],
    { nodeOptions },
  );
  webhookPid = webhook.pid;
  const pid = webhook.pid;
  const started = performance.now();
  await eventuallyWhileRunning(
    webhook.child,
    'the webhook to be ready',
    () => httpOk(`http://127.0.0.1:${probePort}/readyz`),
    {
      timeoutMs: 120_000,
      intervalMs: 100,
      detail: () => webhook.log(),
    },
  );
  const cached = memory(pid);
  say(
    `webhook ready with ${nadCount + 7} NADs cached in ${((performance.now() - started) / 1000).toFixed(1)} s (pid ${pid}, NODE_OPTIONS=${JSON.stringify(nodeOptions)}): VmRSS ${cached.rssMb.toFixed(1)} MB, VmHWM ${cached.hwmMb.toFixed(1)} MB`,
  );
  const secret = await admin.request<{ data: Record<string, string> }>({
    method: 'GET',
    path: `/api/v1/namespaces/${chartNamespace}/secrets/${webhookDefaults.secretName}`,
  });
  const ca = Buffer.from(secret.data[secretKeys.bundle]!, 'base64').toString();
  const pinned = pin(pid, 0) && pin(process.pid, 1);
  const metrics = (): Promise<string> => fetch(`http://127.0.0.1:${probePort}/metrics`).then((r) => r.text());

  const options = {
    url: `https://127.0.0.1:${port}/validate/pods?timeout=10s`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body,
    idReplacement: true,
    connections,
    pipelining: 1,
    tlsOptions: { ca },
  };
  say(
    `webhook on CPU 0, load generator on CPU 1 (${pinned ? 'pinned with taskset' : 'not pinned: no taskset'}); pod reviews with 3 networks, ${Buffer.byteLength(body)} bytes each, ${connections} HTTPS keep-alive connections`,
  );
  await autocannon({ ...options, duration: 2 }); // warm-up: JIT, TLS sessions
  const before = counter(await metrics(), 'allowed');
  const cpuBefore = cpuMs(pid);
  const run = await autocannon({ ...options, duration: seconds });
  const cpuAfter = cpuMs(pid);
  const after = await metrics();
  const loaded = memory(pid);

  const answered = counter(after, 'allowed') - before;
  const errors = run.errors + run.timeouts + run.non2xx;
  const rate = run.requests.total / (run.duration || seconds);
  console.log(
    `requests ${run.requests.total} in ${run.duration} s; errors ${errors}; allowed per /metrics ${answered}; denied ${counter(after, 'denied')}`,
  );
  console.log(
    `throughput reviews/s: mean ${run.requests.average.toFixed(0)}, min ${run.requests.min}, max ${run.requests.max}`,
  );
  console.log(
    `latency ms: p50 ${run.latency.p50}, p90 ${run.latency.p90}, p99 ${run.latency.p99}, max ${run.latency.max}`,
  );
  const perReview = ((cpuAfter - cpuBefore) * 1000) / run.requests.total;
  console.log(
    `server CPU: ${((cpuAfter - cpuBefore) / 1000).toFixed(2)} s for ${run.requests.total} reviews = ${perReview.toFixed(0)} µs per review`,
  );
  console.log(
    `webhook memory: VmRSS ${cached.rssMb.toFixed(1)} MB with the NADs cached, ${loaded.rssMb.toFixed(1)} MB after the load; VmHWM ${loaded.hwmMb.toFixed(1)} MB`,
  );
  if (errors > 0 || answered < run.requests.total || counter(after, 'denied') > 0) {
    console.error('benchmark invalid: some reviews failed or were not admitted');
    exitCode = 1;
  }
  result = `RESULT reviews_per_s=${Math.round(rate)} p99_ms=${run.latency.p99} rss_mb=${cached.rssMb.toFixed(1)} peak_rss_mb=${loaded.hwmMb.toFixed(1)}`;
  webhook.child.kill('SIGTERM');
  await new Promise((r) => webhook.child.once('exit', r));
  webhookPid = undefined;
} catch (err) {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (webhookPid !== undefined) process.kill(webhookPid, 'SIGKILL');
  admin.close();
  await cp.stop();
}
if (result) console.log(result);
process.exitCode = exitCode;
