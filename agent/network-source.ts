/**
 * The network source port: where the agent learns a pod's annotations and the NADs it selects, and
 * where it publishes network-status. The standalone source reads files; the Kubernetes source reads
 * informer caches and patches pods. The attach logic does not know which one it has.
 */
import type { NetworkConfig } from '../lib/cni/config.ts';
import { formatProblems } from '../lib/errors.ts';
import { checkNad } from '../lib/nad.ts';
import type { NetworkStatus } from '../lib/network-status.ts';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Which interfaces a status write announces as added (AddedInterface Events): all of them by default. */
export interface PublishAnnouncement {
  readonly added: readonly string[];
}

export interface PodInfo extends PodRef {
  readonly annotations: Readonly<Record<string, string>>;
  /** The names of the pod's ResourceClaims (lib/dra.ts podClaimNames), when it has any. */
  readonly resourceClaims?: readonly string[];
}

export interface NetworkDefinition {
  readonly namespace: string;
  readonly name: string;
  /** The NAD's validated config; undefined when spec.config is empty (use the node's config file of that name). */
  readonly config: NetworkConfig | undefined;
  /** Why the NAD cannot be used (its config is invalid), if so. */
  readonly invalid?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** The device plugin resource its attachments take a device of (k8s.v1.cni.cncf.io/resourceName). */
  readonly resourceName?: string;
}

export interface NetworkSource {
  /** The pod, when known; undefined when the source has no such pod (it then gets no extra networks). */
  getPod(ref: PodRef): Promise<PodInfo | undefined>;
  getNetwork(namespace: string, name: string): Promise<NetworkDefinition | undefined>;
  /**
   * Records the pod's network-status after a successful ADD of container `containerId` (the Kubernetes
   * source patches the pod).
   */
  publishStatus(
    pod: PodRef,
    statuses: readonly NetworkStatus[],
    containerId: string,
    announce?: PublishAnnouncement,
  ): Promise<void>;
  /** Posts an Event about the pod (hot-plug's RemovedInterface, FailedAddingInterface, ...); never throws. */
  podEvent?(pod: PodRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** The pod's attachments were deleted: drop anything still pending for it. */
  released?(pod: PodRef): void;
  /** Container `containerId`'s attachments are gone: remove the status it published, if it is still its. */
  withdrawStatus?(pod: PodRef, containerId: string): Promise<void>;
  /** Removes what a killed agent left half-written (at start, before any request). */
  sweep?(): Promise<void>;
}

/** A NAD object as the attach logic sees it: its validated config, or why it cannot be used. */
export function networkDefinition(
  object: unknown,
  namespace: string,
  name: string,
  annotations: Readonly<Record<string, string>> = {},
): NetworkDefinition {
  const check = checkNad(object, namespace);
  if (!check.accepted)
    return { namespace, name, config: undefined, invalid: formatProblems(check.problems), annotations };
  return {
    namespace,
    name,
    config: check.config,
    annotations,
    ...(check.resourceName !== undefined ? { resourceName: check.resourceName } : {}),
  };
}
