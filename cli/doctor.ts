/**
 * `multinet doctor` (also `kubectl multinet doctor`, bin/kubectl-multinet): checks a cluster's multinet
 * as its user would, through the API server with their kubeconfig, and says what is wrong and what to do.
 *   multinet doctor                 the install, every node, every NAD
 *   multinet doctor pod NS/NAME     one pod: what it asked for, what it got, its Events, what to fix
 * Exit status: 0 nothing wrong, 1 something is (an error or a warning), 2 usage or the cluster unreachable.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { parseNetworksAnnotation } from '../lib/annotations/networks.ts';
import {
  agentFlag,
  checkCluster,
  componentLabel,
  controllerStaleAfterMs,
  type ClusterSnapshot,
} from '../lib/doctor/cluster.ts';
import {
  flagValue,
  type DaemonSetObject,
  type DeploymentObject,
  type EventObject,
  type NadObject,
  type NodeObject,
  type PodObject,
  type WebhookConfigurationObject,
} from '../lib/doctor/objects.ts';
import { diagnosePod, type PodSnapshot } from '../lib/doctor/pod.ts';
import { somethingWrong, summarize, type Finding } from '../lib/doctor/report.ts';
import { errorMessage } from '../lib/errors.ts';
import { defaultStaleAfterSeconds, nodeStatePlural, type NodeNetworkState } from '../lib/node-state.ts';
import { loadKubeConfig, type ClusterConfig } from '../platform/kube/kubeconfig.ts';
import { isNotFound, KubeRestClient } from '../platform/kube/rest.ts';
import { renderCluster, renderPod, type Style } from './doctor-output.ts';
import { agentFlagDefaults } from './agent-flags.ts';
import { commaList } from './flag-values.ts';
import { ExitCode, UsageError, type CommandContext } from './io.ts';
import { parseOptions } from './options.ts';

export const doctorUsage = `Usage:
  multinet doctor [flags]                 check the install, every node and every NAD
  multinet doctor pod [NAMESPACE/]NAME    check one pod: what it asked for, what it got, its Events
  kubectl multinet doctor ...             the same, as a kubectl plugin (bin/kubectl-multinet on PATH)

Flags:
  --kubeconfig FILE       the cluster (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)
  -n, --namespace NS      where multinet is installed (default: found by its labels); for pod: the pod's
                          namespace when NAME has none
  -o, --output FORMAT     text (default) or json
  --stale-after SECONDS   a node report older than this is stale (default: the controller's, else ${defaultStaleAfterSeconds})
  --color WHEN            auto (default: on a terminal, unless NO_COLOR is set), always or never

Exit status: 0 nothing wrong, 1 something is (an error or a warning), 2 usage error or the cluster
cannot be reached.`;

const partOf = 'app.kubernetes.io/part-of=multinet';

interface DoctorFlags {
  readonly kubeconfig: string | undefined;
  readonly namespace: string | undefined;
  readonly json: boolean;
  readonly staleAfterMs: number | undefined;
  readonly color: 'auto' | 'always' | 'never';
  readonly pod: { namespace: string | undefined; name: string } | undefined;
}

function parseDoctorFlags(args: readonly string[]): DoctorFlags {
  const { values, positionals } = parseOptions(args, {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
    'stale-after': { type: 'string' },
    color: { type: 'string' },
  });
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    throw new UsageError(`--output must be text or json (got ${JSON.stringify(output)})`);
  const color = values.color ?? 'auto';
  if (color !== 'auto' && color !== 'always' && color !== 'never')
    throw new UsageError(`--color must be auto, always or never (got ${JSON.stringify(color)})`);
  let staleAfterMs: number | undefined;
  if (values['stale-after'] !== undefined) {
    const seconds = Number(values['stale-after']);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new UsageError(
        `--stale-after must be a positive number of seconds (got ${JSON.stringify(values['stale-after'])})`,
      );
    staleAfterMs = seconds * 1000;
  }
  let pod: DoctorFlags['pod'];
  const [what, target, ...rest] = positionals;
  if (what !== undefined) {
    if (what !== 'pod')
      throw new UsageError(`unknown check ${JSON.stringify(what)} (only "pod NAMESPACE/NAME")`);
    if (!target || rest.length > 0) throw new UsageError('doctor pod takes one [NAMESPACE/]NAME');
    const slash = target.indexOf('/');
    pod =
      slash < 0
        ? { namespace: undefined, name: target }
        : { namespace: target.slice(0, slash), name: target.slice(slash + 1) };
    if (!pod.name || pod.namespace === '')
      throw new UsageError(`${JSON.stringify(target)} is not NAMESPACE/NAME`);
  }
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    json: output === 'json',
    staleAfterMs,
    color,
    pod,
  };
}

/** kubectl's order: --kubeconfig, $KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount. */
function kubeconfigPath(flag: string | undefined, env: CommandContext['env']): string | undefined {
  if (flag) return flag;
  if (env.KUBECONFIG) return env.KUBECONFIG;
  const home = env.HOME ?? homedir();
  const file = join(home, '.kube', 'config');
  return existsSync(file) ? file : undefined;
}

interface List<T> {
  readonly items?: T[];
}

class Gatherer {
  readonly client: KubeRestClient;
  /** Lists that could not be read: said as findings, the rest is still checked. */
  readonly failures: Finding[] = [];

  constructor(client: KubeRestClient) {
    this.client = client;
  }

  async list<T>(what: string, path: string, query?: Readonly<Record<string, string>>): Promise<T[]> {
    try {
      const list = await this.client.request<List<T>>({ method: 'GET', path, ...(query ? { query } : {}) });
      return list.items ?? [];
    } catch (err) {
      if (isNotFound(err)) return [];
      this.failures.push({
        scope: 'install',
        subject: what,
        check: 'access',
        severity: 'error',
        message: `cannot list ${what}: ${errorMessage(err)}`,
        fix: 'run with a kubeconfig that may read them (kubectl auth can-i list ...)',
      });
      return [];
    }
  }
}

function selectorOf(labels: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

async function gatherInstall(
  g: Gatherer,
  namespace: string | undefined,
): Promise<{
  agent: DaemonSetObject | undefined;
  agentPods: PodObject[];
  deployments: DeploymentObject[];
}> {
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const daemonSets = await g.list<DaemonSetObject>('DaemonSets', `/apis/apps/v1${scope}/daemonsets`, {
    labelSelector: `${partOf},${componentLabel}=agent`,
  });
  const agent = daemonSets.sort((a, b) => keyCompare(a.metadata.namespace, b.metadata.namespace))[0];
  if (!agent) return { agent, agentPods: [], deployments: [] };
  const ns = encodeURIComponent(agent.metadata.namespace ?? 'default');
  const [agentPods, deployments] = await Promise.all([
    g.list<PodObject>('the agent pods', `/api/v1/namespaces/${ns}/pods`, {
      labelSelector: selectorOf(agent.spec?.selector?.matchLabels),
    }),
    g.list<DeploymentObject>('Deployments', `/apis/apps/v1/namespaces/${ns}/deployments`, {
      labelSelector: partOf,
    }),
  ]);
  return { agent, agentPods, deployments };
}

function keyCompare(a: string | undefined, b: string | undefined): number {
  return (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
}

async function gatherCluster(g: Gatherer, flags: DoctorFlags): Promise<ClusterSnapshot> {
  const [install, webhookConfigurations, nodes, nodeStates, nads] = await Promise.all([
    gatherInstall(g, flags.namespace),
    g.list<WebhookConfigurationObject>(
      'ValidatingWebhookConfigurations',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      { labelSelector: partOf },
    ),
    g.list<NodeObject>('Nodes', '/api/v1/nodes'),
    g.list<NodeNetworkState>('NodeNetworkStates', `/apis/multinet.io/v1alpha1/${nodeStatePlural}`),
    g.list<NadObject>(
      'NetworkAttachmentDefinitions',
      '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions',
    ),
  ]);
  return {
    now: Date.now(),
    ...install,
    webhookConfigurations,
    nodes: nodes.sort((a, b) => keyCompare(a.metadata.name, b.metadata.name)),
    nodeStates,
    nads: nads.sort((a, b) =>
      keyCompare(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`),
    ),
    staleAfterMs:
      flags.staleAfterMs ?? controllerStaleAfterMs(install.deployments) ?? defaultStaleAfterSeconds * 1000,
  };
}

async function gatherPod(
  g: Gatherer,
  flags: DoctorFlags,
  config: ClusterConfig,
): Promise<PodSnapshot | string> {
  const target = flags.pod!;
  const namespace = target.namespace ?? flags.namespace ?? config.namespace ?? 'default';
  let pod: PodObject;
  try {
    pod = await g.client.request<PodObject>({
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(target.name)}`,
    });
  } catch (err) {
    if (isNotFound(err)) return `pod ${namespace}/${target.name} not found`;
    throw err;
  }
  const install = await gatherInstall(g, target.namespace !== undefined ? flags.namespace : undefined);
  const snapshotBase = {
    agent: install.agent,
    agentPods: install.agentPods,
    deployments: install.deployments,
    webhookConfigurations: [],
    nodes: [],
    nodeStates: [],
    nads: [],
    now: 0,
    staleAfterMs: 0,
  } satisfies ClusterSnapshot;
  const node = pod.spec?.nodeName;
  const annotations = pod.metadata.annotations ?? {};
  const policy = {
    defaultNetworks: commaList(agentFlag(snapshotBase, 'default-networks', '')),
    namespaceIsolation:
      flagValue(
        install.agent?.spec?.template?.spec?.containers?.find((c) => c.name === 'agent')?.args,
        'namespace-isolation',
      ) !== undefined,
    globalNamespaces: commaList(agentFlag(snapshotBase, 'global-namespaces', '')),
    systemNamespaces: commaList(
      agentFlag(snapshotBase, 'system-namespaces', agentFlagDefaults.systemNamespaces),
    ),
  };
  const wanted = new Set<string>(policy.systemNamespaces.includes(namespace) ? [] : policy.defaultNetworks);
  try {
    const value = annotations[networksAnnotation];
    if (value)
      for (const e of parseNetworksAnnotation(value, namespace)) wanted.add(`${e.namespace}/${e.name}`);
  } catch {
    // An invalid annotation is one of the findings (diagnosePod plans it again).
  }
  const nads = new Map<string, NadObject | null>();
  const [events, nodeState] = await Promise.all([
    g.list<EventObject>("the pod's Events", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
      fieldSelector: `involvedObject.uid=${pod.metadata.uid ?? ''}`,
    }),
    node
      ? g.client
          .request<NodeNetworkState>({
            method: 'GET',
            path: `/apis/multinet.io/v1alpha1/${nodeStatePlural}/${encodeURIComponent(node)}`,
          })
          .catch(() => undefined)
      : Promise.resolve(undefined),
    ...[...wanted].map(async (key) => {
      const [ns, name] = key.split('/') as [string, string];
      try {
        nads.set(
          key,
          await g.client.request<NadObject>({
            method: 'GET',
            path: `/apis/k8s.cni.cncf.io/v1/namespaces/${encodeURIComponent(ns)}/network-attachment-definitions/${encodeURIComponent(name)}`,
          }),
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        nads.set(key, null);
      }
    }),
  ]);
  const agentPods = install.agentPods.filter(
    (p) => p.spec?.nodeName === node && !p.metadata.deletionTimestamp,
  );
  return {
    now: Date.now(),
    pod,
    events: events,
    nads,
    nodeState: nodeState,
    agentPod:
      agentPods.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ??
      agentPods[0],
    agentNamespace: install.agent?.metadata.namespace,
    policy,
    staleAfterMs:
      flags.staleAfterMs ?? controllerStaleAfterMs(install.deployments) ?? defaultStaleAfterSeconds * 1000,
  };
}

export async function runDoctor(args: readonly string[], context: CommandContext): Promise<number> {
  const flags = parseDoctorFlags(args);
  const { io, env } = context;
  const style: Style = {
    color: flags.color === 'always' || (flags.color === 'auto' && io.isTerminal === true && !env.NO_COLOR),
  };
  let config: ClusterConfig;
  try {
    config = loadKubeConfig({ kubeconfig: kubeconfigPath(flags.kubeconfig, env), env });
  } catch (err) {
    io.stderr(`multinet doctor: ${errorMessage(err)}\n`);
    return ExitCode.usage;
  }
  const client = new KubeRestClient(config, { userAgent: 'multinet-doctor', timeoutMs: 15_000, qps: 0 });
  const g = new Gatherer(client);
  const header = `multinet doctor: ${config.server} (${config.origin})`;
  try {
    // One request first: an unreachable cluster is said once, not once per list.
    await client.request({ method: 'GET', path: '/version' });
    if (flags.pod) {
      const snapshot = await gatherPod(g, flags, config);
      if (typeof snapshot === 'string') {
        io.stderr(`multinet doctor: ${snapshot}\n`);
        return ExitCode.failed;
      }
      const diagnosis = diagnosePod(snapshot);
      const findings = [...g.failures, ...diagnosis.findings];
      const summary = summarize(findings);
      if (flags.json)
        io.stdout(
          `${JSON.stringify({ cluster: config.server, ...diagnosis, findings, summary }, null, 2)}\n`,
        );
      else io.stdout(renderPod(style, header, { ...diagnosis, findings }, snapshot.now));
      return somethingWrong(summary) ? ExitCode.failed : ExitCode.ok;
    }
    const snapshot = await gatherCluster(g, flags);
    const findings = [...g.failures, ...checkCluster(snapshot)];
    const summary = summarize(findings);
    if (flags.json) io.stdout(`${JSON.stringify({ cluster: config.server, findings, summary }, null, 2)}\n`);
    else io.stdout(renderCluster(style, header, findings));
    return somethingWrong(summary) ? ExitCode.failed : ExitCode.ok;
  } catch (err) {
    io.stderr(`multinet doctor: cannot check ${config.server} (${config.origin}): ${errorMessage(err)}\n`);
    return ExitCode.usage;
  } finally {
    client.close();
  }
}
