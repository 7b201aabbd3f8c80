/**
 * Runs a multinet component for a benchmark the way the Helm chart runs it: the image's code (`node
 * dist/app/cmd/multinet.js`, after `npm run build`) with NODE_ENV=production as the Dockerfile sets it,
 * the workload's args and env (NODE_OPTIONS included) from `helm template`, and the token of a
 * ServiceAccount bound to the chart's RBAC for that component, read from a file as in-cluster. Only
 * what cannot be the same outside a pod is replaced (paths, listen addresses, the kubeconfig).
 * Also: the NAD configs the benchmarks create (a process' memory and CPU: bench/proc.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../dev/controlplane/controlplane.ts';
import { createServiceAccountToken } from '../dev/controlplane/access.ts';
import { isAlreadyExists, type KubeRequester } from '../platform/kube/rest.ts';
import { repoRoot } from '../dev/netns/local-node.ts';
import { renderChart } from '../test/e2e/helm.ts';
import {
  componentArgs,
  mainContainer,
  rulesOf,
  withoutFlags,
  workload,
  type Component,
} from '../test/e2e/workloads.ts';

export const nodeBinary = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
export const imageEntry = join(repoRoot, 'dist', 'app', 'cmd', 'multinet.js');
/** The namespace the chart is installed in (its Roles, Leases and Secrets live there). */
export const chartNamespace = 'multinet';

/** `npm run build`: the JavaScript the image runs (TypeScript run directly costs ~30 MB more). */
export function buildImageCode(say: (line: string) => void): void {
  say('building the image code (npm run build)');
  const build = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
}

export interface ChartComponent {
  readonly component: Component;
  /** The container's args after the subcommand, without the flags the caller replaces. */
  readonly args: readonly string[];
  /** The container's env with literal values (NODE_OPTIONS among them). */
  readonly env: Readonly<Record<string, string>>;
  readonly clusterRules: ReturnType<typeof rulesOf>;
  /** Rules of the component's Role in the chart's namespace (none for the agent). */
  readonly namespaceRules: ReturnType<typeof rulesOf>;
  /** The container's memory limit ("512Mi"), if the chart sets one. */
  readonly memoryLimit: string | undefined;
}

/** The component as `helm template` renders it with the chart's defaults. */
export async function chartComponent(
  component: Component,
  replacedFlags: readonly string[],
): Promise<ChartComponent> {
  const objects = await renderChart({}, { namespace: chartNamespace });
  const container = mainContainer(workload(objects, component));
  const name = `multinet-${component}`;
  const hasRole = objects.some((o) => o.kind === 'Role' && o.metadata.name === name);
  return {
    component,
    args: withoutFlags(componentArgs(objects, component), replacedFlags),
    env: Object.fromEntries(
      (container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
    ),
    clusterRules: rulesOf(objects, 'ClusterRole', name),
    namespaceRules: hasRole ? rulesOf(objects, 'Role', name) : [],
    memoryLimit: container.resources?.limits?.memory,
  };
}

/**
 * The component's ServiceAccount in the chart's namespace, bound to the chart's ClusterRole and Role
 * for it (same rules, resourceNames included), and a JSON kubeconfig in `dir` that reads its
 * TokenRequest token and the CA from files, as the in-cluster configuration does.
 */
export async function componentKubeconfig(
  cp: ControlPlane,
  admin: KubeRequester,
  chart: ChartComponent,
  dir: string,
): Promise<string> {
  const name = `multinet-${chart.component}`;
  await admin
    .request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: chartNamespace } } })
    .catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err; // another component made it
    });
  const { token } = await createServiceAccountToken(cp.kubeConfig(), chartNamespace, name, {
    rules: chart.namespaceRules,
    clusterRules: chart.clusterRules,
    propagationTimeoutMs: 20_000,
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), cp.caPem);
  const kubeconfig = join(dir, 'kubeconfig.json');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      clusters: [
        { name: 'bench', cluster: { server: cp.serverUrl, 'certificate-authority': join(dir, 'ca.crt') } },
      ],
      users: [{ name: chart.component, user: { tokenFile: join(dir, 'token') } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: chart.component } }],
      'current-context': 'bench',
    }),
  );
  return kubeconfig;
}

/** "NAME=value NAME=value" (BENCH_*_ENV variables) as an environment. */
export function envPairs(text: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (text ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => [pair.split('=')[0]!, pair.slice(pair.indexOf('=') + 1)]),
  );
}

export interface ComponentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it wrote to stderr so far. */
  log(): string;
}

export interface StartOptions {
  /** NODE_OPTIONS (the chart's, or what a benchmark compares). */
  readonly nodeOptions: string;
  /** Node flags on the command line (for V8 flags NODE_OPTIONS does not allow; the chart sets none). */
  readonly nodeArgs?: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** A command that execs the rest of its arguments (a memory cgroup: bench/memory-cgroup.ts). */
  readonly wrapper?: readonly string[];
}

/** Starts `node dist/app/cmd/multinet.js <component> <chart args> <args>` with the chart's env. */
export function startComponent(
  chart: ChartComponent,
  args: readonly string[],
  options: StartOptions,
): ComponentProcess {
  const lines: string[] = [];
  const [command, ...argv] = [
    ...(options.wrapper ?? []),
    nodeBinary,
    ...(options.nodeArgs ?? []),
    imageEntry,
    chart.component,
    ...chart.args,
    ...args,
  ];
  const child = spawn(command!, argv, {
    cwd: options.cwd ?? repoRoot,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      ...chart.env,
      NODE_OPTIONS: options.nodeOptions,
      POD_NAME: `multinet-${chart.component}-bench`,
      POD_NAMESPACE: chartNamespace,
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
  return { child, pid: child.pid!, log: () => lines.join('') };
}

/** A NAD config of one of four shapes (bridge, macvlan, ipvlan, ptp + tuning), different for each i. */
export function benchNadConfig(i: number): object {
  const ipam = { type: 'host-local', subnet: `10.${Math.floor(i / 250) % 250}.${i % 250}.0/24` };
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
