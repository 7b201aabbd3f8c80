/**
 * Which of a pod's networks need a device, by resource: the networks of its plan (lib/pod-networks.ts:
 * its default network, the cluster's default networks, its selections) whose NAD has a resourceName.
 * The injector adds that many of each resource to the pod's requests; the validator denies a pod whose
 * requests fall short. NADs the webhook does not know yet are returned, to be read once and counted.
 */
import { devicesNeeded, type DeviceNeed } from '../lib/devices.ts';
import type { PodNetworkPlan } from '../lib/pod-networks.ts';
import type { NadLookup } from './nad-catalog.ts';
import type { NetworkRef } from './nad-miss-resolver.ts';

export interface PodDeviceNeeds {
  /** Resource name -> the labels of the networks that need one of its devices each. */
  readonly needs: Map<string, string[]>;
  /** The pod's own selections whose NAD is not in the cache. */
  readonly unresolved: readonly NetworkRef[];
}

export function podDeviceNeeds(plan: PodNetworkPlan, nads: NadLookup): PodDeviceNeeds {
  const unresolved: NetworkRef[] = [];
  const needs: Array<DeviceNeed | undefined> = [plan.defaultNetwork, ...plan.networks].map((network) => {
    if (!network || network.violation) return undefined;
    const evaluation = nads.get(network.namespace, network.name);
    if (!evaluation) {
      // The cluster's default networks are the agents' configuration: the pod is not held up for them.
      if (network.element || network === plan.defaultNetwork)
        unresolved.push({ namespace: network.namespace, name: network.name });
      return undefined;
    }
    return evaluation.accepted && evaluation.resourceName
      ? { label: network.label, resourceName: evaluation.resourceName }
      : undefined;
  });
  return { needs: devicesNeeded(needs), unresolved };
}
