/**
 * `multinet doctor pod NS/NAME`: what one pod asked for (its networks annotation, planned as the agent
 * plans it: interface names included), what it got (its network-status), its Events, and for each network
 * it lacks, why and what to fix: the NAD missing or not Ready, the node lacking the plugin or the host
 * interface (its NodeNetworkState), the node's agent not running, the sandbox error the runtime reported.
 */
import { networksAnnotation, networkStatusAnnotation } from '../annotations/keys.ts';
import { formatProblem } from '../errors.ts';
import { parseNetworkStatusAnnotation, type NetworkStatus } from '../network-status.ts';
import { heartbeatOf, networkKey, type NodeNetworkState } from '../node-state.ts';
import { planPodNetworks, type PodNetworkPolicy } from '../pod-networks.ts';
import { containerTrouble } from './cluster.ts';
import { conditionOf, type EventObject, type NadObject, type PodObject } from './objects.ts';
import { ago, finding, type Finding, type FindingArgs } from './report.ts';

export interface PodSnapshot {
  readonly now: number;
  readonly pod: PodObject & { readonly spec?: { readonly hostNetwork?: boolean } };
  readonly events: readonly EventObject[];
  /** The NADs the pod selects, by "namespace/name"; null when it does not exist. */
  readonly nads: ReadonlyMap<string, NadObject | null>;
  /** The NodeNetworkState of the pod's node. */
  readonly nodeState: NodeNetworkState | undefined;
  /** The agent pod on the pod's node (undefined: none), and its namespace. */
  readonly agentPod: PodObject | undefined;
  readonly agentNamespace: string | undefined;
  /** The agents' network options (from their DaemonSet's flags): default networks, isolation. */
  readonly policy: PodNetworkPolicy;
  readonly staleAfterMs: number;
}

export interface RequestedNetwork {
  /** namespace/name of the NAD. */
  readonly network: string;
  readonly interface: string;
  /** Where it comes from: `networks[0] "ns/name"`, `defaultNetworks "ns/name"`. */
  readonly from: string;
  readonly attached: boolean;
}

export interface PodEvent {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  /** When it last happened (RFC 3339), and how often. */
  readonly time: string;
  readonly count: number;
  readonly from: string;
}

export interface PodDiagnosis {
  readonly pod: {
    readonly namespace: string;
    readonly name: string;
    readonly node: string;
    readonly phase: string;
    readonly ready: boolean;
  };
  readonly requested: readonly RequestedNetwork[];
  readonly attached: readonly NetworkStatus[];
  readonly events: readonly PodEvent[];
  readonly findings: readonly Finding[];
}

function eventTime(e: EventObject): string {
  return e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? '';
}

export function podEvents(events: readonly EventObject[]): PodEvent[] {
  return events
    .map((e) => ({
      type: e.type ?? 'Normal',
      reason: e.reason ?? '',
      message: (e.message ?? '').trim(),
      time: eventTime(e),
      count: e.series?.count ?? e.count ?? 1,
      from: e.reportingComponent || e.source?.component || '',
    }))
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

/** Why a network the pod asked for is not attached, and what to do; most specific cause first. */
function whyMissing(
  s: PodSnapshot,
  key: string,
  nodeName: string,
  sandboxError: PodEvent | undefined,
): { why: string; fix: string } {
  const nad = s.nads.get(key);
  const [namespace, name] = key.split('/') as [string, string];
  if (nad === null) {
    return {
      why: `NetworkAttachmentDefinition ${key} does not exist`,
      fix: `create it (kubectl apply -f ...) in namespace ${namespace}, or fix the pod's ${networksAnnotation} annotation`,
    };
  }
  const problem = s.nodeState?.status?.problems.find((p) => p.namespace === namespace && p.name === name);
  if (problem?.missingPlugins?.length) {
    const dirs = s.nodeState?.status?.cniBinDirs.join(', ') ?? 'the CNI bin dir';
    return {
      why: `node ${nodeName} has no plugin ${problem.missingPlugins.join(', ')} (its CNI bin dirs: ${dirs})`,
      fix: `install ${problem.missingPlugins.join(', ')} into ${s.nodeState?.status?.cniBinDirs[0] ?? 'the CNI bin dir'} on ${nodeName} (or use a plugin the node has); the pod is retried`,
    };
  }
  if (problem?.missingInterfaces?.length) {
    return {
      why: `node ${nodeName} has no host interface ${problem.missingInterfaces.join(', ')}`,
      fix: `create ${problem.missingInterfaces.join(', ')} on ${nodeName}, or point ${key}'s config at an interface the node has`,
    };
  }
  if (problem?.error)
    return { why: problem.error, fix: `see ${key}'s status and the agent's log on ${nodeName}` };
  const ready = conditionOf(nad?.status?.conditions, 'Ready');
  const accepted = conditionOf(nad?.status?.conditions, 'Accepted');
  const bad = [accepted, ready].find((c) => c && c.status !== 'True');
  if (bad) {
    return {
      why: `${key} is ${bad.type} ${bad.status}: ${bad.message ?? bad.reason ?? ''}`,
      fix: `kubectl describe net-attach-def -n ${namespace} ${name}`,
    };
  }
  if (sandboxError) return { why: sandboxError.message, fix: 'see the Events below' };
  return {
    why: 'no cause found in the cluster',
    fix: `kubectl describe pod; the agent's log on ${nodeName}`,
  };
}

export function diagnosePod(s: PodSnapshot): PodDiagnosis {
  const meta = s.pod.metadata;
  const namespace = meta.namespace ?? 'default';
  const subject = `${namespace}/${meta.name}`;
  const node = s.pod.spec?.nodeName ?? '';
  const phase = s.pod.status?.phase ?? 'Unknown';
  const ready = conditionOf(s.pod.status?.conditions, 'Ready')?.status === 'True';
  const events = podEvents(s.events);
  const findings: Finding[] = [];
  const say = (...args: FindingArgs): void => void findings.push(finding('pod', subject, ...args));
  const annotations = meta.annotations ?? {};
  const attached = parseNetworkStatusAnnotation(annotations[networkStatusAnnotation]);
  const plan = planPodNetworks(annotations, namespace, s.policy, 'eth0');
  const requested: RequestedNetwork[] = plan.networks.map((n, i) => {
    const ifName = plan.interfaceNames?.[i + 1] ?? n.element?.interface ?? `net${i + 1}`;
    const key = networkKey(n.namespace, n.name);
    return {
      network: key,
      interface: ifName,
      from: n.label,
      attached: attached.some((a) => a.name === key && a.interface === ifName),
    };
  });
  const base = { namespace, name: meta.name, node, phase, ready };
  for (const problem of plan.problems) {
    say(
      'annotation',
      'error',
      `the pod's annotations are invalid: ${formatProblem(problem)}`,
      `fix the annotation (multinet lint annotation --namespace ${namespace} 'VALUE' checks one)`,
    );
  }
  if (s.pod.spec?.hostNetwork) {
    say('network', 'ok', 'uses the host network: no CNI, no networks to attach');
    return { pod: base, requested, attached, events, findings };
  }
  if (!node) {
    const scheduled = conditionOf(s.pod.status?.conditions, 'PodScheduled');
    say(
      'scheduling',
      'error',
      `not scheduled: ${scheduled?.message ?? scheduled?.reason ?? 'no node yet'}`,
      'kubectl describe pod (resources it requests, node selectors, taints)',
    );
    return { pod: base, requested, attached, events, findings };
  }
  // The agent on the pod's node, and its report.
  if (!s.agentPod) {
    say(
      'agent',
      'error',
      `no multinet agent runs on node ${node}: the pod's networks cannot be attached (or released)`,
      `multinet doctor (the cluster's checks say why)`,
    );
  } else if (conditionOf(s.agentPod.status?.conditions, 'Ready')?.status !== 'True') {
    const trouble = containerTrouble(s.agentPod.status?.containerStatuses?.find((c) => c.name === 'agent'));
    say(
      'agent',
      'error',
      `the multinet agent on node ${node} (${s.agentPod.metadata.name}) is not Ready${trouble ? `: ${trouble}` : ''}`,
      `kubectl -n ${s.agentNamespace ?? ''} logs ${s.agentPod.metadata.name}`,
    );
  } else {
    const age = s.now - heartbeatOf(s.nodeState ?? { status: undefined });
    say(
      'agent',
      Number.isFinite(age) && age <= s.staleAfterMs ? 'ok' : 'warning',
      `the multinet agent on node ${node} (${s.agentPod.metadata.name}) is Ready${Number.isFinite(age) ? `; it reported ${ago(age)} ago` : '; it has not reported'}`,
    );
  }
  const sandboxErrors = events.filter(
    (e) => e.reason === 'FailedCreatePodSandBox' || e.reason.startsWith('Failed'),
  );
  const sandboxError = sandboxErrors[sandboxErrors.length - 1];
  const defaultStatus = attached.find((a) => a.default);
  const running = phase === 'Running';
  if (defaultStatus) {
    say(
      'network',
      'ok',
      `${defaultStatus.interface ?? 'eth0'}: the default network ${defaultStatus.name}${defaultStatus.ips?.length ? `, ${defaultStatus.ips.join(', ')}` : ''}`,
    );
  } else if (running) {
    say(
      'network',
      requested.length > 0 ? 'error' : 'warning',
      'no network-status: multinet did not attach this pod (it was created before multinet took over the node, or by another CNI)',
      requested.length > 0
        ? 'delete the pod so that its controller creates it again through multinet'
        : undefined,
    );
  }
  for (const r of requested) {
    if (r.attached) {
      const status = attached.find((a) => a.name === r.network && a.interface === r.interface);
      say(
        'network',
        'ok',
        `${r.interface}: ${r.network}${status?.ips?.length ? `, ${status.ips.join(', ')}` : ''}`,
      );
      continue;
    }
    if (running && !defaultStatus) continue; // said above: multinet never attached this pod
    const { why, fix } = whyMissing(s, r.network, node, sandboxError);
    say('network', 'error', `${r.interface}: ${r.network} is not attached: ${why}`, fix);
  }
  if (!running && sandboxError) {
    say(
      'sandbox',
      'error',
      `${phase}: ${sandboxError.reason}${sandboxError.count > 1 ? ` (${sandboxError.count} times)` : ''}: ${sandboxError.message}`,
      'the runtime retries by itself once the cause above is fixed',
    );
  } else if (running) {
    say('pod', ready ? 'ok' : 'warning', `Running${ready ? ', Ready' : ', not Ready'} on ${node}`);
  } else if (phase === 'Pending') {
    say('pod', 'warning', `Pending on ${node}, no sandbox error reported yet`);
  }
  return { pod: base, requested, attached, events, findings };
}
