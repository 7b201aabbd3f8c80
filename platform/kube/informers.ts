/**
 * Informers on the resources multinet reads, shared by the controller, the webhook and the agent, and
 * the trims their caches apply (the cache keeps only what its component reads).
 */
import type { Logger } from 'winston';
import {
  defaultNetworkAnnotation,
  networksAnnotation,
  resourceNameAnnotation,
} from '../../lib/annotations/keys.ts';
import { podClaimNames } from '../../lib/k8s/pod-claims.ts';
import { nadGroup, nadPlural, nadVersion, type NetworkAttachmentDefinition } from '../../lib/nad.ts';
import {
  nodeStateGroup,
  nodeStatePlural,
  nodeStateVersion,
  type NodeNetworkState,
} from '../../lib/node-state.ts';
import { ResilientInformer } from './informer.ts';
import type { KubeClient } from './rest.ts';

export type NadObject = NetworkAttachmentDefinition & {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number };
};

/**
 * A pod as the agent caches it: identity, the two annotations that select its networks, and the
 * names of its ResourceClaims (`claims`, from spec.resourceClaims and status.resourceClaimStatuses: not
 * an API field) when it has any.
 */
export interface PodObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    /** Set once the pod is being deleted. */
    readonly deletionTimestamp?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly claims?: readonly string[];
}

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what no component reads from a NAD, in place: managedFields (several KiB per object once its
 * status is written) and the copy of the whole object kubectl apply keeps in an annotation. Halves
 * the controller's cache at 5,000 NADs.
 */
export function trimNad(nad: NadObject): NadObject {
  const metadata = nad.metadata as NadObject['metadata'] & { managedFields?: unknown };
  delete metadata.managedFields;
  if (metadata.annotations?.[lastApplied] !== undefined) {
    const { [lastApplied]: _dropped, ...rest } = metadata.annotations;
    metadata.annotations = rest;
  }
  return nad;
}

/** A NAD as the agent keeps it: identity, spec.config and its resourceName (the agent reads nothing else). */
export function nodeNad(nad: NadObject): NadObject {
  const { name, namespace, uid, resourceVersion } = nad.metadata;
  const resourceName = nad.metadata.annotations?.[resourceNameAnnotation];
  return {
    apiVersion: nad.apiVersion,
    kind: nad.kind,
    metadata: {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      ...(resourceName !== undefined ? { annotations: { [resourceNameAnnotation]: resourceName } } : {}),
    },
    spec: { config: nad.spec?.config ?? '' },
  };
}

/** A pod trimmed to what the agent reads (Multus' informer keeps the whole spec minus volumes and env). */
export function nodePod(pod: PodObject): PodObject {
  const { name, namespace, uid, resourceVersion, annotations, deletionTimestamp } = pod.metadata;
  const kept: Record<string, string> = {};
  for (const key of [networksAnnotation, defaultNetworkAnnotation]) {
    const value = annotations?.[key];
    if (value !== undefined) kept[key] = value;
  }
  const claims = pod.claims ?? podClaimNames(pod);
  return {
    metadata: {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      ...(deletionTimestamp !== undefined ? { deletionTimestamp } : {}),
      annotations: kept,
    },
    ...(claims.length > 0 ? { claims } : {}),
  };
}

/** Every NAD in the cluster, trimmed (trimNad unless `transform` says otherwise). */
export function nadInformer(
  client: KubeClient,
  log: Logger,
  transform: (nad: NadObject) => NadObject = trimNad,
): ResilientInformer<NadObject> {
  return new ResilientInformer<NadObject>({
    client,
    path: `/apis/${nadGroup}/${nadVersion}/${nadPlural}`,
    transform,
    log: log.child({ informer: 'network-attachment-definitions' }),
  });
}

/** Every NodeNetworkState (one per node running the agent), or those matching a label selector. */
export function nodeStateInformer(
  client: KubeClient,
  log: Logger,
  labelSelector?: string,
): ResilientInformer<NodeNetworkState> {
  return new ResilientInformer<NodeNetworkState>({
    client,
    path: `/apis/${nodeStateGroup}/${nodeStateVersion}/${nodeStatePlural}`,
    labelSelector,
    transform: (state) => {
      delete (state.metadata as { managedFields?: unknown }).managedFields;
      return state;
    },
    log: log.child({ informer: 'nodenetworkstates' }),
  });
}

/** The pods of one node only (field selector spec.nodeName), trimmed: an agent never caches the cluster's pods. */
export function nodePodInformer(
  client: KubeClient,
  nodeName: string,
  log: Logger,
): ResilientInformer<PodObject> {
  return new ResilientInformer<PodObject>({
    client,
    path: '/api/v1/pods',
    fieldSelector: `spec.nodeName=${nodeName}`,
    transform: nodePod,
    log: log.child({ informer: 'pods', nodeName }),
  });
}

/** A Node as the controller keeps it: its name and the extended resources it advertises (allocatable). */
export interface NodeObject {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
  readonly status?: { readonly allocatable?: Readonly<Record<string, string>> };
}

/** Keeps a Node's name and the allocatable counts of extended resources (names with a domain: "x.io/y"). */
export function nodeResources(node: NodeObject): NodeObject {
  const allocatable: Record<string, string> = {};
  for (const [name, value] of Object.entries(node.status?.allocatable ?? {}))
    if (name.includes('/')) allocatable[name] = value;
  const { name, resourceVersion } = node.metadata;
  return {
    metadata: { name, ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
    status: { allocatable },
  };
}

/** Every Node, trimmed to the extended resources it advertises. */
export function nodeInformer(client: KubeClient, log: Logger): ResilientInformer<NodeObject> {
  return new ResilientInformer<NodeObject>({
    client,
    path: '/api/v1/nodes',
    transform: nodeResources,
    log: log.child({ informer: 'nodes' }),
  });
}
