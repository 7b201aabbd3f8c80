/**
 * `npm run bench:webhook`: AdmissionReview throughput and latency of the webhook on one core. The server
 * (bench/webhook.server.ts) runs in a child process pinned to CPU 0; autocannon runs here, pinned to
 * CPU 1, over HTTPS keep-alive connections, sending pod reviews that select 3 networks each (all
 * admitted). Prints autocannon's figures, checks from /metrics that every review was answered "allowed",
 * and ends with `RESULT reviews_per_s=<n> p99_ms=<m>`.
 *
 * Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 8).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);

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

/** CPU seconds (user + system, all threads) the process has used so far; undefined off Linux. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

function getMetrics(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', ca: caPem }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

function counter(text: string, verdict: string): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith('multinet_webhook_reviews_total{') && l.includes(`verdict="${verdict}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const serverFile = fileURLToPath(new URL('./webhook.server.ts', import.meta.url));
const profile = process.env.BENCH_PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
  : [];
const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...profile, serverFile], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const pinned = pin(child.pid!, 0) && pin(process.pid, 1);
const lines = createInterface({ input: child.stdout });
let port = 0;
let caPem = '';
for await (const line of lines) {
  if (line.startsWith('PORT ')) port = Number(line.slice(5));
  if (line.startsWith('CA ')) caPem = Buffer.from(line.slice(3), 'base64').toString();
  if (port && caPem) break;
}
if (!port) throw new Error('the benchmark server did not start');

// As the API server calls it (timeoutSeconds: 10).
const url = `https://127.0.0.1:${port}/validate/pods?timeout=10s`;
const options = {
  url,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  body,
  idReplacement: true,
  connections,
  pipelining: 1,
};
console.log(
  `server pid ${child.pid} on CPU 0, load generator on CPU 1 (${pinned ? 'pinned with taskset' : 'not pinned: no taskset'})`,
);
console.log(
  `pod reviews with 3 networks, ${Buffer.byteLength(body)} bytes each, ${connections} HTTPS keep-alive connections`,
);
await autocannon({ ...options, duration: 2 }); // warm-up: JIT, TLS sessions
const before = counter(await getMetrics(port, caPem), 'allowed');
const cpuBefore = cpuSeconds(child.pid!);
const result = await autocannon({ ...options, duration: seconds });
const cpuAfter = cpuSeconds(child.pid!);
const after = await getMetrics(port, caPem);
child.stdin.end();
await once(child, 'exit');

const answered = counter(after, 'allowed') - before;
const errors = result.errors + result.timeouts + result.non2xx;
const rate = result.requests.total / (result.duration || seconds);
console.log(
  `requests ${result.requests.total} in ${result.duration} s; errors ${errors}; allowed per /metrics ${answered}; denied ${counter(after, 'denied')}`,
);
console.log(
  `throughput reviews/s: mean ${result.requests.average.toFixed(0)}, min ${result.requests.min}, max ${result.requests.max}`,
);
console.log(
  `latency ms: p50 ${result.latency.p50}, p90 ${result.latency.p90}, p99 ${result.latency.p99}, max ${result.latency.max}`,
);
if (cpuBefore !== undefined && cpuAfter !== undefined && cpuAfter > cpuBefore) {
  // Independent of other load on the machine: what one review costs the server in CPU time.
  const perReview = ((cpuAfter - cpuBefore) * 1e6) / result.requests.total;
  console.log(
    `server CPU: ${(cpuAfter - cpuBefore).toFixed(2)} s for ${result.requests.total} reviews = ${perReview.toFixed(0)} µs per review (${Math.round(1e6 / perReview)} reviews per CPU-second)`,
  );
}
if (errors > 0 || answered < result.requests.total || counter(after, 'denied') > 0) {
  console.error('benchmark invalid: some reviews failed or were not admitted');
  process.exitCode = 1;
}
console.log(`RESULT reviews_per_s=${Math.round(rate)} p99_ms=${result.latency.p99}`);
