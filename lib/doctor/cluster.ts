/**
 * `multinet doctor`'s checks of a cluster, as pure functions of what the API server holds: the install
 * (the agent's DaemonSet, the controller and the webhook), each node (its agent Running and Ready, its
 * NodeNetworkState fresh, the generated CNI config present, the one the runtime uses and made from the
 * node's default network, the shim of the agent's release) and each NAD (its status conditions).
 */
import type { NodeNetworkState } from '../node-state.ts';
import { heartbeatOf } from '../node-state.ts';
import {
  conditionOf,
  flagValue,
  keyOf,
  type ContainerStatus,
  type DaemonSetObject,
  type DeploymentObject,
  type NadObject,
  type NodeObject,
  type PodObject,
  type WebhookConfigurationObject,
} from './objects.ts';
import { ago, finding, plural, type Finding, type FindingArgs } from './report.ts';

/** Everything the cluster checks read, as gathered by the command. */
export interface ClusterSnapshot {
  /** ms since the epoch, when it was gathered. */
  readonly now: number;
  /** The agent's DaemonSet (undefined: none found, multinet is not installed). */
  readonly agent: DaemonSetObject | undefined;
  /** The pods of the agent's DaemonSet. */
  readonly agentPods: readonly PodObject[];
  /** multinet's Deployments (controller, webhook) in the agent's namespace. */
  readonly deployments: readonly DeploymentObject[];
  readonly webhookConfigurations: readonly WebhookConfigurationObject[];
  readonly nodes: readonly NodeObject[];
  readonly nodeStates: readonly NodeNetworkState[];
  readonly nads: readonly NadObject[];
  /** A report older than this is stale (the controller's --stale-after; default 180 s). */
  readonly staleAfterMs: number;
}

export const componentLabel = 'app.kubernetes.io/component';

function agentArgs(s: ClusterSnapshot): readonly string[] | undefined {
  return s.agent?.spec?.template?.spec?.containers?.find((c) => c.name === 'agent')?.args;
}

/** The agent's flag, as its DaemonSet passes it (the chart's --flag=value form), or the agent's default. */
export function agentFlag(s: ClusterSnapshot, flag: string, fallback: string): string {
  const value = flagValue(agentArgs(s), flag);
  return typeof value === 'string' && value ? value : fallback;
}

/** The controller's --stale-after, as its Deployment passes it, in ms (undefined: not found). */
export function controllerStaleAfterMs(deployments: readonly DeploymentObject[]): number | undefined {
  const controller = deployments.find((d) => d.metadata.labels?.[componentLabel] === 'controller');
  const value = flagValue(
    controller?.spec?.template?.spec?.containers?.find((c) => c.name === 'controller')?.args,
    'stale-after',
  );
  const seconds = typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function readiness(ready: number | undefined, want: number | undefined): string {
  return `${ready ?? 0} of ${want ?? 0} ready`;
}

export function checkInstall(s: ClusterSnapshot): Finding[] {
  const out: Finding[] = [];
  const ds = s.agent;
  if (!ds) {
    out.push(
      finding(
        'install',
        'multinet',
        'agent',
        'error',
        'multinet is not installed: no DaemonSet labelled app.kubernetes.io/part-of=multinet, app.kubernetes.io/component=agent',
        'helm install multinet charts/multinet --namespace multinet (docs/installation.md), or give --namespace if it is installed under other labels',
      ),
    );
    return out;
  }
  const ns = ds.metadata.namespace ?? '';
  const desired = ds.status?.desiredNumberScheduled ?? 0;
  const ready = ds.status?.numberReady ?? 0;
  out.push(
    finding(
      'install',
      keyOf(ds.metadata),
      'agent',
      ready >= desired && desired > 0 ? 'ok' : 'error',
      `DaemonSet ${keyOf(ds.metadata)}: ${readiness(ready, desired)}${desired === 0 ? ' (it selects no node)' : ''}`,
      ready >= desired && desired > 0 ? undefined : `kubectl -n ${ns} describe daemonset ${ds.metadata.name}`,
    ),
  );
  for (const component of ['controller', 'webhook'] as const) {
    const d = s.deployments.find((x) => x.metadata.labels?.[componentLabel] === component);
    if (!d) {
      out.push(
        finding(
          'install',
          `${ns}/${component}`,
          component,
          'error',
          `no ${component} Deployment in ${ns}: ${component === 'controller' ? 'NADs get no status' : 'nothing checks NADs and pods before they reach the nodes'}`,
          'helm upgrade --install with the chart (docs/installation.md)',
        ),
      );
      continue;
    }
    const want = d.spec?.replicas ?? d.status?.replicas ?? 1;
    const readyReplicas = d.status?.readyReplicas ?? 0;
    out.push(
      finding(
        'install',
        keyOf(d.metadata),
        component,
        readyReplicas >= 1 ? (readyReplicas >= want ? 'ok' : 'warning') : 'error',
        `Deployment ${keyOf(d.metadata)}: ${readiness(readyReplicas, want)}`,
        readyReplicas >= want ? undefined : `kubectl -n ${ns} describe deployment ${d.metadata.name}`,
      ),
    );
  }
  const webhook = s.webhookConfigurations.find((w) =>
    (w.webhooks ?? []).some((h) => h.name.endsWith('multinet.io')),
  );
  if (!webhook) {
    out.push(
      finding(
        'install',
        'webhook',
        'webhook-configuration',
        'error',
        'no ValidatingWebhookConfiguration of multinet: NADs and pods are not checked at admission',
        `kubectl -n ${ns} logs deployment/${s.deployments.find((d) => d.metadata.labels?.[componentLabel] === 'webhook')?.metadata.name ?? 'WEBHOOK'} (the webhook registers it)`,
      ),
    );
  } else {
    const missing = (webhook.webhooks ?? []).filter((h) => !h.clientConfig?.caBundle);
    out.push(
      finding(
        'install',
        webhook.metadata.name,
        'webhook-configuration',
        missing.length === 0 ? 'ok' : 'error',
        missing.length === 0
          ? `ValidatingWebhookConfiguration ${webhook.metadata.name}: ${plural(webhook.webhooks?.length ?? 0, 'webhook')} with a CA bundle`
          : `ValidatingWebhookConfiguration ${webhook.metadata.name}: no CA bundle for ${missing.map((h) => h.name).join(', ')}: the API server cannot call the webhook`,
        missing.length === 0
          ? undefined
          : "the webhook writes it at start (self-managed certificates), or cert-manager's cainjector does",
      ),
    );
  }
  return out;
}

/** Findings about one node: finding('node', name, ...). */
function nodeFinding(nodeName: string): (...rest: FindingArgs) => Finding {
  return (...rest) => finding('node', nodeName, ...rest);
}

function podReady(pod: PodObject): boolean {
  return conditionOf(pod.status?.conditions, 'Ready')?.status === 'True';
}

/** Why a container is not running or not ready: its waiting reason, its last termination. */
export function containerTrouble(status: ContainerStatus | undefined): string | undefined {
  if (!status) return undefined;
  const parts: string[] = [];
  const waiting = status.state?.waiting;
  if (waiting?.reason) parts.push(`${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
  const last = status.lastState?.terminated;
  if (last) {
    parts.push(
      `last exit ${last.exitCode ?? '?'}${last.reason ? ` (${last.reason})` : ''}${last.message ? `: ${last.message.trim().split('\n').slice(-1)[0] ?? ''}` : ''}`,
    );
  }
  if ((status.restartCount ?? 0) > 0) parts.push(`restarted ${plural(status.restartCount ?? 0, 'time')}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** The node's labels do not satisfy the DaemonSet's nodeSelector: the pairs that fail. */
function unselected(ds: DaemonSetObject, node: NodeObject | undefined): string[] {
  const selector = ds.spec?.template?.spec?.nodeSelector ?? {};
  const labels = node?.metadata.labels ?? {};
  return Object.entries(selector)
    .filter(([k, v]) => labels[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
}

function agentOnNode(s: ClusterSnapshot, nodeName: string): PodObject | undefined {
  const pods = s.agentPods.filter((p) => p.spec?.nodeName === nodeName && !p.metadata.deletionTimestamp);
  return pods.find(podReady) ?? pods[0];
}

function checkAgent(s: ClusterSnapshot, nodeName: string, node: NodeObject | undefined): Finding {
  const at = nodeFinding(nodeName);
  const ds = s.agent!;
  const ns = ds.metadata.namespace ?? '';
  const pod = agentOnNode(s, nodeName);
  if (!pod) {
    const missing = unselected(ds, node);
    return at(
      'agent',
      'error',
      missing.length > 0
        ? `no multinet agent runs on this node: the DaemonSet ${keyOf(ds.metadata)} does not select it (its nodeSelector wants ${missing.join(', ')}); pods here get no secondary networks, and a new pod waits for an agent, then fails`
        : `no multinet agent runs on this node (the DaemonSet ${keyOf(ds.metadata)} has ${ds.status?.currentNumberScheduled ?? 0} of ${ds.status?.desiredNumberScheduled ?? 0} scheduled); a new pod waits for an agent, then fails`,
      missing.length > 0
        ? `label the node (kubectl label node ${nodeName} ${missing.join(' ')}) or fix agent.nodeSelector in the chart's values`
        : `kubectl -n ${ns} describe daemonset ${ds.metadata.name}`,
    );
  }
  const status = pod.status?.containerStatuses?.find((c) => c.name === 'agent');
  const trouble = containerTrouble(status);
  if (pod.status?.phase === 'Running' && podReady(pod)) {
    return at(
      'agent',
      'ok',
      `${pod.metadata.name} Running and Ready${(status?.restartCount ?? 0) > 0 ? ` (restarted ${plural(status?.restartCount ?? 0, 'time')})` : ''}`,
    );
  }
  return at(
    'agent',
    'error',
    `${pod.metadata.name} is ${pod.status?.phase ?? 'Unknown'}${podReady(pod) ? '' : ', not Ready'}${trouble ? ` (${trouble})` : ''}: new pods on this node wait for it, then fail`,
    `kubectl -n ${ns} logs ${pod.metadata.name}${(status?.restartCount ?? 0) > 0 ? ' --previous' : ''}; kubectl -n ${ns} describe pod ${pod.metadata.name}`,
  );
}

function checkReport(
  s: ClusterSnapshot,
  nodeName: string,
  state: NodeNetworkState | undefined,
): { finding: Finding; fresh: boolean } {
  const at = nodeFinding(nodeName);
  const ns = s.agent?.metadata.namespace ?? '';
  if (!state?.status) {
    return {
      fresh: false,
      finding: at(
        'report',
        'error',
        'no NodeNetworkState: the agent has never reported from this node',
        `kubectl -n ${ns} logs -l ${componentLabel}=agent --field-selector spec.nodeName=${nodeName}`,
      ),
    };
  }
  const heartbeat = heartbeatOf(state);
  const age = s.now - heartbeat;
  const labelled = state.metadata.labels?.['multinet.io/stale'] === 'true';
  if (!Number.isFinite(heartbeat) || age > s.staleAfterMs || labelled) {
    return {
      fresh: false,
      finding: at(
        'report',
        'error',
        `its NodeNetworkState is stale: last written ${Number.isFinite(heartbeat) ? `${ago(age)} ago` : 'never'} (stale after ${ago(s.staleAfterMs)}); NADs no longer count this node, and the checks below are as of that report`,
        'get the node\'s agent running (see "agent" above); it reports every heartbeat',
      ),
    };
  }
  return {
    fresh: true,
    finding: at(
      'report',
      'ok',
      `NodeNetworkState written ${ago(age)} ago by agent ${state.status.agentVersion}`,
    ),
  };
}

function checkConfig(s: ClusterSnapshot, nodeName: string, state: NodeNetworkState): Finding[] {
  const at = nodeFinding(nodeName);
  const status = state.status!;
  const config = status.cniConfig;
  const agentPod = agentOnNode(s, nodeName)?.metadata.name ?? 'AGENT-POD';
  const ns = s.agent?.metadata.namespace ?? '';
  const confDir = agentFlag(s, 'cni-conf-dir', '/etc/cni/net.d');
  if (!config) {
    return [
      at(
        'config',
        'warning',
        `the agent (${status.agentVersion}) does not report its CNI config: it is older than multinet doctor`,
        `upgrade multinet: helm upgrade ...`,
      ),
    ];
  }
  const out: Finding[] = [];
  const file = config.path;
  if (!status.defaultNetwork) {
    out.push(
      at(
        'config',
        'error',
        `no default network in ${confDir}: the agent has nothing to generate ${file} from${config.present ? ' (the file there is left from before)' : ''}`,
        `install the cluster's default network (Flannel, Calico, ...): its CNI config in ${confDir} on ${nodeName}`,
      ),
    );
  } else if (!config.present) {
    out.push(
      at(
        'config',
        'error',
        `${file} is missing: the runtime uses ${config.runtimeFile || 'no config at all'}, so new pods get no secondary networks`,
        `the agent writes it when it starts: kubectl -n ${ns} delete pod ${agentPod}`,
      ),
    );
  } else if (config.runtimeFile !== file) {
    out.push(
      at(
        'config',
        'error',
        `the runtime uses ${config.runtimeFile}, which sorts before ${file}: new pods get no secondary networks`,
        `remove or rename ${config.runtimeFile} on ${nodeName} (the runtime loads the first CNI config by name)`,
      ),
    );
  } else if (config.generatedFrom !== status.defaultNetwork) {
    out.push(
      at(
        'config',
        'error',
        `${file} was made from ${config.generatedFrom || 'no default network'}, but the node's default network is ${status.defaultNetwork}`,
        `the agent rewrites it when the conf dir changes; restart it: kubectl -n ${ns} delete pod ${agentPod}`,
      ),
    );
  } else {
    out.push(
      at(
        'config',
        'ok',
        `${file} is the config the runtime uses, made from the default network ${status.defaultNetwork}`,
      ),
    );
  }
  if (config.externalChange) {
    const when = Date.parse(config.externalChange.time);
    out.push(
      at(
        'config',
        'warning',
        `something else ${config.externalChange.change} ${file} ${Number.isFinite(when) ? `${ago(s.now - when)} ago (${config.externalChange.time})` : ''}; the agent wrote it again, but pods created in between got only the default network`,
        `find what touches ${confDir} on ${nodeName} (another CNI's installer, a cleanup job, configuration management) and keep it off ${file}`,
      ),
    );
  }
  return out;
}

function checkShim(s: ClusterSnapshot, nodeName: string, state: NodeNetworkState): Finding | undefined {
  const at = nodeFinding(nodeName);
  const status = state.status!;
  const shim = status.shim;
  if (!shim) return undefined;
  const agentPod = agentOnNode(s, nodeName)?.metadata.name ?? 'AGENT-POD';
  const ns = s.agent?.metadata.namespace ?? '';
  const restart = `the agent installs its own shim when it starts: kubectl -n ${ns} delete pod ${agentPod}`;
  if (shim.error) {
    return at('shim', 'error', `${shim.path}: ${shim.error}`, restart);
  }
  if (!shim.matchesAgent) {
    return at(
      'shim',
      'error',
      `${shim.path} is multinet-cni ${shim.version}, the agent is ${status.agentVersion}: the runtime's requests go through a shim of another release`,
      restart,
    );
  }
  return at('shim', 'ok', `${shim.path} ${shim.version}, the agent's own`);
}

export function checkNode(s: ClusterSnapshot, node: NodeObject): Finding[] {
  const name = node.metadata.name;
  const out: Finding[] = [];
  const ready = conditionOf(node.status?.conditions, 'Ready');
  if (ready && ready.status !== 'True') {
    out.push(
      finding(
        'node',
        name,
        'node',
        'error',
        `the node is not Ready (${ready.reason ?? ready.status}${ready.message ? `: ${ready.message}` : ''})`,
        `kubectl describe node ${name}`,
      ),
    );
  }
  if (!s.agent) return out;
  out.push(checkAgent(s, name, node));
  const state = s.nodeStates.find((n) => n.metadata.name === name);
  const report = checkReport(s, name, state);
  out.push(report.finding);
  if (state?.status) {
    out.push(...checkConfig(s, name, state));
    const shim = checkShim(s, name, state);
    if (shim) out.push(shim);
  }
  return out;
}

/** Reports of nodes that no longer exist: left by a node that was removed. */
function orphanReports(s: ClusterSnapshot): Finding[] {
  const nodes = new Set(s.nodes.map((n) => n.metadata.name));
  return s.nodeStates
    .filter((state) => !nodes.has(state.metadata.name))
    .map((state) =>
      finding(
        'node',
        state.metadata.name,
        'report',
        'warning',
        'a NodeNetworkState of a node that no longer exists',
        `kubectl delete nodenetworkstate ${state.metadata.name}`,
      ),
    );
}

const nadFixes: Readonly<Record<string, string>> = {
  InvalidConfig: 'fix spec.config (multinet lint nad FILE names each problem), then kubectl apply it again',
  PluginMissing: 'install the missing plugin binaries into the CNI bin dir of the nodes named above',
  InterfaceMissing:
    'create the host interface on the nodes named above, or point the config at one they have (master, device)',
  UnusableOnNodes: 'see the message: install the plugins, create the interfaces on the nodes it names',
  NodeError: 'see the message and the agent logs of the nodes it names',
  ResourceNotAdvertised:
    'run the device plugin that advertises the resource (kubectl get node -o jsonpath={.status.allocatable})',
  NoNodes: 'no node reports: get the agents running (see the nodes above)',
  Propagating: 'the agents are fetching its config; if it stays so, see the nodes above',
};

export function checkNads(s: ClusterSnapshot): Finding[] {
  return s.nads.map((nad) => {
    const key = keyOf(nad.metadata);
    const conditions = nad.status?.conditions;
    const accepted = conditionOf(conditions, 'Accepted');
    const ready = conditionOf(conditions, 'Ready');
    const degraded = conditionOf(conditions, 'Degraded');
    if (!accepted && !ready) {
      return finding(
        'nad',
        key,
        'status',
        'warning',
        'no status yet: the controller has not reconciled it',
        'check the controller (see "install" above)',
      );
    }
    const nodes = nad.status?.nodes ? ` (${nad.status.nodes} nodes)` : '';
    const bad = [accepted, ready].find((c) => c && c.status !== 'True');
    if (bad) {
      return finding(
        'nad',
        key,
        'status',
        bad.reason === 'Propagating' ? 'warning' : 'error',
        `${bad.type} ${bad.status}${bad.reason ? ` (${bad.reason})` : ''}${nodes}: ${bad.message ?? ''}`,
        (degraded?.status === 'True' ? nadFixes[degraded.reason ?? ''] : undefined) ??
          nadFixes[bad.reason ?? ''] ??
          `kubectl describe net-attach-def -n ${nad.metadata.namespace} ${nad.metadata.name}`,
      );
    }
    if (degraded?.status === 'True') {
      return finding(
        'nad',
        key,
        'status',
        'warning',
        `Degraded${degraded.reason ? ` (${degraded.reason})` : ''}${nodes}: ${degraded.message ?? ''}`,
        nadFixes[degraded.reason ?? ''],
      );
    }
    return finding('nad', key, 'status', 'ok', `Ready${nodes}`);
  });
}

export function checkCluster(s: ClusterSnapshot): Finding[] {
  return [
    ...checkInstall(s),
    ...s.nodes.flatMap((node) => checkNode(s, node)),
    ...orphanReports(s),
    ...checkNads(s),
  ];
}
