/**
 * Which networks a pod asks for, from its annotations and the cluster's policy: the one plan both
 * the admission webhook (which denies) and the node agent (which attaches) work from, so a pod the
 * webhook admits is a pod the agent can attach. Pure: NAD lookups are the caller's.
 */
import { parseDefaultNetworkAnnotation } from './annotations/default-network.ts';
import type { ClaimDeviceRef } from './dra.ts';
import { defaultNetworkAnnotation, networksAnnotation } from './annotations/keys.ts';
import { parseNetworksAnnotation, type NetworkSelectionElement } from './annotations/networks.ts';
import { ValidationError, type Problem } from './errors.ts';
import { planInterfaceNames } from './interface-plan.ts';
import { splitNetworkKey } from './node-state.ts';
import { isolationViolation, selectionLabel, type IsolationPolicy } from './selection.ts';

export interface PodNetworkPolicy extends IsolationPolicy {
  /** NADs ("namespace/name") every pod gets after its default network (Multus' defaultNetworks). */
  readonly defaultNetworks: readonly string[];
  /** Pods in these namespaces do not get the defaultNetworks. */
  readonly systemNamespaces: readonly string[];
}

/** One network the pod gets, beyond the cluster's default network. */
export interface PlannedNetwork {
  /** How messages name it: `networks[1] "ns/name"`, `defaultNetworks "ns/name"`, or the override annotation. */
  readonly label: string;
  readonly namespace: string;
  readonly name: string;
  /** The selection element, for networks the pod's annotations select. */
  readonly element?: NetworkSelectionElement;
  /** Why namespace isolation forbids it, if it does. */
  readonly violation?: string;
  /** The ResourceClaim device it comes from (the DRA driver's), for networks that come from claims. */
  readonly claim?: ClaimDeviceRef;
}

/** A network the pod gets from elsewhere than its annotations (its ResourceClaims), after them. */
export interface ClaimedNetwork {
  readonly label: string;
  readonly element: NetworkSelectionElement;
  readonly claim: ClaimDeviceRef;
}

export interface PodNetworkPlan {
  /** The pod's own default network (the v1.multus-cni.io/default-network annotation), if it names one. */
  readonly defaultNetwork?: PlannedNetwork;
  /** The cluster's default networks, then the annotation's selections, in attach order. */
  readonly networks: readonly PlannedNetwork[];
  /** Interface names: [runtime ifName, then one per entry of networks]; undefined when there are problems. */
  readonly interfaceNames?: readonly string[];
  /** Malformed annotations and interface-name collisions, each naming the field. */
  readonly problems: readonly Problem[];
}

function parsed<T>(fn: () => T, problems: Problem[]): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

function withPolicy(
  label: string,
  element: NetworkSelectionElement,
  podNamespace: string,
  policy: IsolationPolicy,
): PlannedNetwork {
  const violation = isolationViolation(podNamespace, element, policy);
  return {
    label,
    namespace: element.namespace,
    name: element.name,
    element,
    ...(violation ? { violation } : {}),
  };
}

export function planPodNetworks(
  annotations: Readonly<Record<string, unknown>>,
  podNamespace: string,
  policy: PodNetworkPolicy,
  runtimeIfName: string,
  claimed: readonly ClaimedNetwork[] = [],
): PodNetworkPlan {
  const problems: Problem[] = [];
  let defaultNetwork: PlannedNetwork | undefined;
  const override = annotations[defaultNetworkAnnotation];
  if (override !== undefined) {
    if (typeof override !== 'string')
      problems.push({ path: defaultNetworkAnnotation, message: 'must be a string' });
    else {
      const element = parsed(() => parseDefaultNetworkAnnotation(override, podNamespace), problems);
      if (element) {
        const label = `${defaultNetworkAnnotation} "${element.namespace}/${element.name}"`;
        defaultNetwork = withPolicy(label, element, podNamespace, policy);
      }
    }
  }
  const networks: PlannedNetwork[] = [];
  if (!policy.systemNamespaces.includes(podNamespace)) {
    for (const ref of policy.defaultNetworks) {
      const { namespace, name } = splitNetworkKey(ref);
      networks.push({ label: `defaultNetworks "${ref}"`, namespace, name });
    }
  }
  const selections = annotations[networksAnnotation];
  if (typeof selections === 'string') {
    const elements = parsed(() => parseNetworksAnnotation(selections, podNamespace), problems);
    elements?.forEach((element, index) =>
      networks.push(withPolicy(selectionLabel(index, element), element, podNamespace, policy)),
    );
  } else if (selections !== undefined) {
    problems.push({ path: networksAnnotation, message: 'must be a string' });
  }
  // The networks of the pod's ResourceClaims come after the annotation's, in the claims' order.
  for (const { label, element, claim } of claimed)
    networks.push({ ...withPolicy(label, element, podNamespace, policy), claim });
  const interfaceNames =
    problems.length === 0
      ? parsed(
          () =>
            planInterfaceNames(runtimeIfName, [
              { label: 'the default network' },
              ...networks.map((n) => ({ label: n.label, explicit: n.element?.interface })),
            ]),
          problems,
        )
      : undefined;
  return {
    ...(defaultNetwork ? { defaultNetwork } : {}),
    networks,
    ...(interfaceNames ? { interfaceNames } : {}),
    problems,
  };
}
