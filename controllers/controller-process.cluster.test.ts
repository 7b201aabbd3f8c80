/**
 * `multinet controller` as a process, under a ServiceAccount with exactly the RBAC of controllers/rbac.ts:
 * it reconciles, serves /healthz, /readyz and /metrics, logs JSON, and on SIGTERM exits 0 after
 * releasing its Lease.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { KubeRestClient } from '../platform/kube/rest.ts';
import {
  createTestNamespace,
  testKubeConfig,
  testServiceAccount,
} from '../test/controlplane/test-cluster.ts';
import { controllerClusterRules, controllerLeaseRules } from './rbac.ts';
import {
  conditionOf,
  createNad,
  eventually,
  nadWhere,
  silentLog,
  uniqueName,
} from '../test/doubles/cluster-helpers.ts';
import { SimulatedAgents } from '../test/doubles/simulated-agents.ts';

const multinet = fileURLToPath(new URL('../bin/multinet', import.meta.url));

describe('multinet controller (process)', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'multinet-controller-'));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('reconciles with least privilege, serves probes and metrics, and shuts down cleanly on SIGTERM', async () => {
    const kc = testKubeConfig();
    const rest = new KubeRestClient(kc);
    const namespace = await createTestNamespace('controller-process');
    const account = await testServiceAccount(namespace, 'multinet-controller', {
      clusterRules: controllerClusterRules.map((r) => ({ ...r })),
      rules: controllerLeaseRules.map((r) => ({ ...r })),
    });
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, account.kubeconfig, { mode: 0o600 });
    const label = uniqueName('process');
    const agents = new SimulatedAgents(rest, silentLog);
    agents.node(`${label}-a`, { labels: { 'multinet.test/run': label } });
    await agents.start();

    const logs: Array<Record<string, unknown>> = [];
    const nonJson: string[] = [];
    child = spawn(
      multinet,
      [
        'controller',
        '--kubeconfig',
        kubeconfig,
        '--leader-elect',
        '--lease-namespace',
        namespace,
        '--namespace',
        namespace,
        '--node-selector',
        `multinet.test/run=${label}`,
        '--probe-listen',
        '127.0.0.1:0',
        '--workers',
        '2',
      ],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: 'controller-0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        nonJson.push(line);
      }
    });
    try {
      const address = await eventually(
        'the probe address in the log',
        () => logs.find((l) => l.message === 'serving probes and metrics')?.address as string | undefined,
        30_000,
      );
      const base = `http://${address}`;
      await eventually('/readyz', async () => (await fetch(`${base}/readyz`)).status === 200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      await createNad(rest, namespace, 'net', {
        cniVersion: '1.0.0',
        type: 'bridge',
        bridge: 'mnet0',
        ipam: { type: 'host-local', subnet: '192.0.2.0/24' },
      });
      await nadWhere(
        rest,
        namespace,
        'net',
        'Ready',
        (n) => conditionOf(n, 'Ready')?.status === 'True',
        30_000,
      );
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^multinet_controller_leader 1$/m);
      expect(metrics).toMatch(/^multinet_controller_queue_depth \d+$/m);
      expect(metrics).toMatch(
        /^multinet_controller_reconcile_duration_seconds_count\{result="written"\} [1-9]/m,
      );
      expect(metrics).toMatch(/^multinet_controller_reconcile_errors_total 0$/m);
      expect(metrics).toMatch(/^multinet_controller_process_resident_memory_bytes \d+/m);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const lease = await rest.request<{ spec?: { holderIdentity?: string } }>({
        method: 'GET',
        path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/multinet-controller`,
      });
      expect(lease.spec?.holderIdentity).toBeUndefined();
      expect(nonJson).toEqual([]);
      const messages = logs.map((l) => l.message);
      expect(messages).toEqual(
        expect.arrayContaining([
          'became the leader',
          'shutting down: finishing the reconciles in flight',
          'released the Lease',
          'stopped',
        ]),
      );
      expect(logs.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await agents.stop();
      rest.close();
    }
  }, 90_000);
});
