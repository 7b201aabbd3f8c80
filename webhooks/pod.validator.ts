/**
 * Pod CREATE, and UPDATE when the networks or default-network annotation changed: the annotations
 * parsed by lib/, every selected NAD present and accepted, namespace isolation, capabilities for the
 * requested ips/mac, interface names that do not collide, and requests that cover the devices its
 * device networks need; on a running pod (hot-plug), no swap of its default network and no interface
 * another of its networks holds. Messages are the node agent's (from lib/selection.ts), so a pod is denied
 * here for the same reason the agent would fail it.
 */
import { networkKey } from '../lib/node-state.ts';
import {
  defaultNetworkAnnotation,
  networksAnnotation,
  networkStatusAnnotation,
} from '../lib/annotations/keys.ts';
import { parseNetworkStatusAnnotation } from '../lib/network-status.ts';
import type { NetworkSelectionElement } from '../lib/annotations/networks.ts';
import { podResourceRequests } from '../lib/devices.ts';
import { planPodNetworks, type PodNetworkPlan, type PodNetworkPolicy } from '../lib/pod-networks.ts';
import { isObject } from '../lib/safe-json.ts';
import { formatProblem } from '../lib/errors.ts';
import { notFoundMessage, selectionCapabilities, type CapabilityField } from '../lib/selection.ts';
import type { AdmissionRequest } from './admission-review.ts';
import { podDeviceNeeds } from './device-needs.ts';
import type { NadLookup } from './nad-catalog.ts';
import { rejectionReason } from './nad-evaluation.ts';
import type { NetworkRef } from './nad-miss-resolver.ts';
import type { NodeReport } from './node-report.ts';
import { allow, deny, type Verdict } from './verdict.ts';

/** The agents' policy (their --default-networks, --namespace-isolation, ...) plus the runtime's interface name. */
export interface PodPolicy extends PodNetworkPolicy {
  /** The interface the runtime gives the default network. */
  readonly runtimeIfName: string;
}

export const defaultPodPolicy: PodPolicy = {
  namespaceIsolation: false,
  globalNamespaces: [],
  defaultNetworks: [],
  systemNamespaces: ['kube-system'],
  runtimeIfName: 'eth0',
};

export interface PodValidationContext {
  readonly nads: NadLookup;
  readonly nodes: NodeReport;
  readonly policy: PodPolicy;
}

export interface PodVerdict extends Verdict {
  /** NADs that were not found: the caller may read them from the API server and validate again. */
  readonly unresolved?: readonly NetworkRef[];
}

/** What happens when a selection asks for a capability (lib/selection.ts) its NAD does not declare. */
const missingCapability: Readonly<Record<CapabilityField, { deny: boolean; hint: string }>> = {
  ips: {
    deny: true,
    hint: 'add "capabilities": {"ips": true} to the plugin that assigns addresses (for example with "ipam": {"type": "static"})',
  },
  mac: {
    deny: true,
    hint: 'add a plugin with "capabilities": {"mac": true} (for example {"type": "tuning", "capabilities": {"mac": true}})',
  },
  'infiniband-guid': { deny: false, hint: 'it is ignored' },
  portMappings: { deny: false, hint: 'it is ignored' },
  bandwidth: { deny: false, hint: 'it is ignored' },
};

type Annotations = Readonly<Record<string, unknown>>;

function annotationsOf(object: unknown): Annotations {
  if (!isObject(object) || !isObject(object.metadata)) return {};
  return isObject(object.metadata.annotations) ? object.metadata.annotations : {};
}

function describeNodes(namespace: string, name: string, nodes: NodeReport): string | undefined {
  const reports = nodes.problemsOf(namespace, name);
  if (reports.length === 0) return undefined;
  const shown = reports.slice(0, 3).map((r) => {
    const what = [
      r.missingPlugins.length > 0 ? `missing plugins ${r.missingPlugins.join(', ')}` : '',
      r.missingInterfaces.length > 0 ? `missing interfaces ${r.missingInterfaces.join(', ')}` : '',
      r.error ?? '',
    ].filter(Boolean);
    return `${r.node}: ${what.join('; ') || 'unusable'}`;
  });
  const more = reports.length > 3 ? `, and ${reports.length - 3} more nodes` : '';
  return `the agents on ${reports.length} node${reports.length === 1 ? '' : 's'} cannot use this network (${shown.join('; ')}${more}): the pod fails to start if it is scheduled there`;
}

/** Problems and warnings about one selected NAD (exists, accepted, capabilities, node reports). */
function checkSelection(
  label: string,
  element: Pick<NetworkSelectionElement, 'namespace' | 'name'> & Partial<NetworkSelectionElement>,
  context: PodValidationContext,
  problems: string[],
  warnings: string[],
  unresolved: NetworkRef[],
): void {
  const evaluation = context.nads.get(element.namespace, element.name);
  if (!evaluation) {
    problems.push(`${label}: ${notFoundMessage(element)}`);
    unresolved.push({ namespace: element.namespace, name: element.name });
    return;
  }
  if (!evaluation.accepted) {
    problems.push(`${label}: the NetworkAttachmentDefinition is invalid: ${rejectionReason(evaluation)}`);
    return;
  }
  for (const { field, capability } of selectionCapabilities) {
    if (element[field] === undefined) continue;
    const rule = missingCapability[field];
    if (!evaluation.config) {
      warnings.push(
        `${label}: requests "${field}", but the NetworkAttachmentDefinition has no spec.config (each node uses its own CNI config file), so the "${capability}" capability cannot be checked`,
      );
    } else if (!evaluation.capabilities.has(capability)) {
      const text = `${label}: requests "${field}", but its CNI config does not declare the "${capability}" capability; ${rule.hint}`;
      (rule.deny ? problems : warnings).push(text);
    }
  }
  const nodeTrouble = describeNodes(element.namespace, element.name, context.nodes);
  if (nodeTrouble) warnings.push(`${label}: ${nodeTrouble}`);
}

export function validatePodReview(request: AdmissionRequest, context: PodValidationContext): PodVerdict {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
  const object = request.object;
  if (!isObject(object)) return deny('request.object must be a Pod', [], 400);
  const annotations = annotationsOf(object);
  const networks = annotations[networksAnnotation];
  const override = annotations[defaultNetworkAnnotation];
  if (networks === undefined && override === undefined) return allow();
  if (request.operation === 'UPDATE') {
    const old = annotationsOf(request.oldObject);
    if (old[networksAnnotation] === networks && old[defaultNetworkAnnotation] === override) return allow();
  }
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const podNamespace =
    typeof metadata.namespace === 'string' && metadata.namespace !== ''
      ? metadata.namespace
      : (request.namespace ?? 'default');
  const { policy } = context;
  const problems: string[] = [];
  const warnings: string[] = [];
  const unresolved: NetworkRef[] = [];

  const plan = planPodNetworks(annotations, podNamespace, policy, policy.runtimeIfName);
  problems.push(...plan.problems.map(formatProblem));
  if (request.operation === 'UPDATE' && plan.problems.length === 0 && isScheduled(object))
    problems.push(...liveChangeProblems(annotationsOf(request.oldObject), annotations, plan, podNamespace));
  // The pod's own choices are checked here; the cluster's defaultNetworks are the agents' configuration.
  const chosen = [plan.defaultNetwork, ...plan.networks.filter((n) => n.element)];
  for (const network of chosen) {
    if (!network) continue;
    if (network.violation) problems.push(`${network.label}: ${network.violation}`);
    else {
      const element =
        network === plan.defaultNetwork
          ? { namespace: network.namespace, name: network.name }
          : network.element!;
      checkSelection(network.label, element, context, problems, warnings, unresolved);
    }
  }
  if (plan.problems.length === 0) problems.push(...deviceShortfalls(object, plan, context.nads));
  if (problems.length === 0) return allow(dedupe(warnings));
  return {
    ...deny(problems.join('; '), dedupe(warnings)),
    ...(unresolved.length > 0 ? { unresolved: uniqueRefs(unresolved) } : {}),
  };
}

/** Whether the pod is on a node (its sandbox, and so its networks, may exist). */
function isScheduled(pod: Record<string, unknown>): boolean {
  return isObject(pod.spec) && typeof pod.spec.nodeName === 'string' && pod.spec.nodeName !== '';
}

/**
 * What a change of a running pod's annotations cannot do (hot-plug, agent/hot-plug.ts): swap its default
 * network, or ask for an interface another network of the pod holds and keeps.
 */
function liveChangeProblems(
  old: Annotations,
  now: Annotations,
  plan: PodNetworkPlan,
  podNamespace: string,
): string[] {
  const problems: string[] = [];
  if (old[defaultNetworkAnnotation] !== now[defaultNetworkAnnotation]) {
    problems.push(
      `${defaultNetworkAnnotation}: cannot change on a running pod: its default network was attached when its sandbox was created and cannot be swapped live; delete and create the pod again to change it`,
    );
  }
  // Who holds each interface now (network-status), against what the change asks for.
  const holders = new Map(
    parseNetworkStatusAnnotation(
      typeof old[networkStatusAnnotation] === 'string' ? old[networkStatusAnnotation] : undefined,
    )
      .filter((s) => s.interface)
      .map((s) => [s.interface!, s.name]),
  );
  const stillWanted = new Set(plan.networks.map((n) => networkKey(n.namespace, n.name)));
  for (const network of plan.networks) {
    const ifName = network.element?.interface;
    if (!ifName) continue;
    const holder = holders.get(ifName);
    const key = networkKey(network.namespace, network.name);
    if (holder && holder !== key && (stillWanted.has(holder) || !holder.includes('/'))) {
      problems.push(
        `${network.label}: interface ${JSON.stringify(ifName)} is held by ${holder} on the running pod (${podNamespace} network-status); choose another interface name, or remove ${holder} in the same change`,
      );
    }
  }
  return problems;
}

/** Each resource the pod requests fewer of than its device networks need (both numbers named). */
function deviceShortfalls(pod: unknown, plan: PodNetworkPlan, nads: NadLookup): string[] {
  const requested = podResourceRequests(pod);
  const out: string[] = [];
  for (const [resource, labels] of podDeviceNeeds(plan, nads).needs) {
    const have = requested.get(resource) ?? 0;
    if (have >= labels.length) continue;
    out.push(
      `the pod requests ${have} "${resource}" but ${labels.length} of its networks need one each (${labels.join(', ')}): request "${resource}": ${labels.length} in a container's resources, or let the multinet webhook add it (webhook.injectResources)`,
    );
  }
  return out;
}

function uniqueRefs(refs: readonly NetworkRef[]): NetworkRef[] {
  const seen = new Map(refs.map((r) => [networkKey(r.namespace, r.name), r]));
  return [...seen.values()];
}

function dedupe(list: string[]): string[] {
  return list.length < 2 ? list : [...new Set(list)];
}
