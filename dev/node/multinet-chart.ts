/**
 * multinet installed on a local cluster (the single node, or the multi-node cluster) the way a cluster
 * operator does it: `helm install` of charts/multinet with the image built from the Dockerfile (served by
 * the local registry), so the controller and webhook run as Deployments and the agent as a DaemonSet pod
 * on every node. The values only say where pods reach the API server (there is no kube-proxy) and, on the
 * single node, where it keeps its CNI dirs; the multi-node cluster's nodes use the chart's defaults.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { eventually } from '../eventually.ts';
import { repoRoot } from '../repo-root.ts';
import { splitReference } from './images.ts';
import type { BuiltImage } from './images.ts';
import type { KubeNode } from './kube-node.ts';
import { proveAPodGetsItsNetwork } from './probe-pod.ts';

export const chartDir: string = join(repoRoot, 'charts', 'multinet');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the chart needs to know of a local cluster. */
export interface ChartTarget {
  readonly images: readonly BuiltImage[];
  /** Where pods reach the API server. */
  readonly apiGateway: { readonly host: string; readonly port: number };
  /** A dir of the run: helm's home and the values files go below it. */
  readonly workDir: string;
  readonly adminKubeconfigPath: string;
  readonly helmPath: string;
  /** The values that fit the nodes besides the image and the API server ({} for the chart's defaults). */
  readonly values: Record<string, unknown>;
  /** The agent's state and socket dirs, as the nodes see them. */
  readonly stateDir: string;
  readonly socketDir: string;
  /** Where each node's generated CNI config appears, as this process reads it. */
  readonly generatedConfigs: readonly string[];
  kubeConfig(): KubeConfig;
  kubectl(args: readonly string[], stdin?: string): Promise<RunResult>;
}

/** The single node: its CNI and agent dirs live under its run dir. */
export function nodeChartTarget(node: KubeNode): ChartTarget {
  const stateDir = join(node.layout.dir, 'multinet-agent', 'state');
  const socketDir = join(node.layout.dir, 'multinet-agent', 'run');
  return {
    images: node.images,
    apiGateway: node.apiGateway,
    workDir: node.layout.dir,
    adminKubeconfigPath: node.adminKubeconfigPath,
    helmPath: node.helmPath,
    // Its CNI and agent dirs, the kubelet's pod-resources dir and the stand-in VFs' device-info dir, and
    // the resource injector on (the stand-in VFs' NADs need it).
    values: {
      agent: {
        cniConfDir: node.layout.cniConfDir,
        cniBinDir: node.layout.cniBinDir,
        stateDir,
        socketDir,
        podResourcesDir: dirname(node.vfs.podResourcesSocket),
        deviceInfoDir: node.vfs.deviceInfoDir,
      },
      webhook: { injectResources: true },
    },
    stateDir,
    socketDir,
    generatedConfigs: [join(node.layout.cniConfDir, '00-multinet.conflist')],
    kubeConfig: () => node.kubeConfig(),
    kubectl: (args, stdin) => node.kubectl(args, stdin),
  };
}

export interface ChartOnNode {
  readonly release: string;
  readonly namespace: string;
  /** The values file the release was installed with. */
  readonly valuesFile: string;
  /** The agent's state dir and socket dir on the host. */
  readonly stateDir: string;
  readonly socketDir: string;
  /** The chart's resource name prefix (`<release>-multinet` unless the release name holds "multinet"). */
  readonly fullname: string;
  /** Runs the node's helm with the admin kubeconfig and a private helm home. */
  helm(args: readonly string[]): Promise<RunResult>;
  /** `helm upgrade` with the install's values and `values` over them; resolves once it is rolled out. */
  upgrade(values: Record<string, unknown>): Promise<void>;
}

export interface ChartOnNodeOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** More values, merged over the node's (helm's --set-json semantics: later wins). */
  readonly values?: Record<string, unknown>;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  /** Skip the probe pod (e.g. when a test creates pods itself right away). */
  readonly skipProbe?: boolean;
}

/** Runs helm; an abort (Ctrl-C of `multinet up`) ends it with SIGTERM, as a user's Ctrl-C would. */
function run(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { env, maxBuffer: 32 * 1024 * 1024, timeout: 600_000, ...(signal ? { signal } : {}) },
      (err, stdout, stderr) => {
        const aborted = signal?.aborted ? `aborted: ${String(signal.reason)}\n` : '';
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          stdout,
          stderr: aborted + stderr,
        });
      },
    );
  });
}

/** The values that fit this cluster: its image, the way to the API server, what its nodes need. */
export function clusterChartValues(target: ChartTarget): Record<string, unknown> {
  const image = target.images.find((i) => i.name === 'multinet');
  if (!image)
    throw new Error("the cluster serves no multinet image: start it with extraImages: ['multinet']");
  const { host, repository, tag } = splitReference(image.reference);
  return {
    image: { repository: `${host}/${repository}`, tag, pullPolicy: 'IfNotPresent' },
    kubernetesServiceHost: target.apiGateway.host,
    kubernetesServicePort: String(target.apiGateway.port),
    ...target.values,
  };
}

/** `helm install` of the chart on the single node (see installChart). */
export function installChartOnNode(node: KubeNode, options: ChartOnNodeOptions = {}): Promise<ChartOnNode> {
  return installChart(nodeChartTarget(node), options);
}

/**
 * `helm install` of the chart; resolves once every pod is Ready, every node's agent wrote its CNI config
 * and a probe pod got its network.
 */
export async function installChart(
  target: ChartTarget,
  options: ChartOnNodeOptions = {},
): Promise<ChartOnNode> {
  const log = options.log ?? ((): void => undefined);
  const release = options.release ?? 'multinet';
  const namespace = options.namespace ?? 'multinet';
  const dir = join(target.workDir, 'helm');
  const { stateDir, socketDir } = target;
  await mkdir(dir, { recursive: true });
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    KUBECONFIG: target.adminKubeconfigPath,
    HELM_CACHE_HOME: join(dir, 'cache'),
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_DATA_HOME: join(dir, 'data'),
  };
  // A helm command that failed: its output and what the release's pods, Events and logs say (not after an abort).
  const failed = async (command: string, out: RunResult): Promise<never> => {
    options.signal?.throwIfAborted();
    const why = await releaseDiagnostics(target, namespace, release);
    throw new Error(`helm ${command} failed: ${out.stderr.trim() || out.stdout.trim()}\n${why}`);
  };
  const helm = (args: readonly string[]): Promise<RunResult> =>
    run(target.helmPath, args, env, options.signal);
  const valuesFile = join(dir, `${release}-values.json`);
  const values = mergeValues(clusterChartValues(target), options.values ?? {});
  await writeFile(valuesFile, `${JSON.stringify(values, null, 2)}\n`);
  log(`helm install ${release} charts/multinet --namespace ${namespace} --create-namespace -f ${valuesFile}`);
  const install = await helm([
    'install',
    release,
    chartDir,
    '--namespace',
    namespace,
    '--create-namespace',
    '-f',
    valuesFile,
    '--wait',
    '--timeout',
    '5m',
  ]);
  if (install.code !== 0) await failed('install', install);
  const fullname = release.includes('multinet') ? release : `${release}-multinet`;
  const signal = options.signal;
  await eventually(
    "every node's agent to write 00-multinet.conflist into its conf dir",
    () => (target.generatedConfigs.every((file) => existsSync(file)) ? true : undefined),
    { ...(signal ? { signal } : {}), timeoutMs: 60_000 },
  );
  if (!options.skipProbe) await proveAPodGetsItsNetwork(target.kubeConfig().makeApiClient(CoreV1Api), signal);
  log("multinet runs on the node as the chart's pods");
  const upgrade = async (more: Record<string, unknown>): Promise<void> => {
    const file = join(dir, `${release}-upgrade-${Date.now()}.json`);
    await writeFile(file, `${JSON.stringify(more, null, 2)}\n`);
    const out = await helm([
      'upgrade',
      release,
      chartDir,
      '--namespace',
      namespace,
      '-f',
      valuesFile,
      '-f',
      file,
      '--wait',
      '--timeout',
      '5m',
    ]);
    if (out.code !== 0) await failed('upgrade', out);
  };
  return { release, namespace, valuesFile, stateDir, socketDir, fullname, helm, upgrade };
}

/**
 * What an operator would look at when a release does not become ready: its pods (phase, node, restarts),
 * the namespace's recent Events (image pulls, probes, scheduling) and the last log lines of every
 * container, current and previous.
 */
export async function releaseDiagnostics(
  target: Pick<ChartTarget, 'kubectl'>,
  namespace: string,
  release: string,
): Promise<string> {
  const selector = `app.kubernetes.io/instance=${release}`;
  const sections: Array<[string, string[]]> = [
    ['pods', ['get', 'pods', '-n', namespace, '-o', 'wide']],
    [
      'events',
      [
        'get',
        'events',
        '-n',
        namespace,
        '--sort-by=.lastTimestamp',
        '-o',
        'custom-columns=TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message',
      ],
    ],
    ['logs', ['logs', '-n', namespace, '-l', selector, '--all-containers', '--prefix', '--tail=30']],
    [
      'previous logs',
      ['logs', '-n', namespace, '-l', selector, '--all-containers', '--prefix', '--tail=30', '--previous'],
    ],
  ];
  const out: string[] = [];
  for (const [title, args] of sections) {
    const result = await target.kubectl(args);
    const text = (result.stdout.trim() || result.stderr.trim()).split('\n').slice(-60).join('\n');
    out.push(`--- ${title} (kubectl ${args.join(' ')}) ---\n${text}`);
  }
  return out.join('\n');
}

/** Deep merge of plain objects (arrays and scalars replace), as helm merges values files. */
export function mergeValues(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeValues(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
