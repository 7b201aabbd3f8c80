/**
 * The opt-in resource injector (network-resources-injector's job, in the same webhook): on pod CREATE,
 * each device network the pod gets (lib/pod-networks.ts plan, NADs with a resourceName) adds one of
 * its resource to the pod's first container, requests and limits alike, so the scheduler places the
 * pod where the devices are free and the kubelet allocates them. As the injector does: a resource
 * some container already requests (or limits) is left as the user wrote it; opt-in, the pod's labels
 * and annotations (network-status among them) are mounted in every container at /etc/podnetinfo (the
 * downward-API volume "podnetinfo"). Anything wrong with the pod's networks (a bad annotation, a
 * missing or invalid NAD) is left alone here: the validating webhook, called after, says what.
 */
import { networksAnnotation, defaultNetworkAnnotation } from '../lib/annotations/keys.ts';
import { planPodNetworks } from '../lib/pod-networks.ts';
import { isObject, type JsonObject, type JsonValue } from '../lib/safe-json.ts';
import type { AdmissionRequest } from './admission-review.ts';
import { podDeviceNeeds } from './device-needs.ts';
import type { NadLookup } from './nad-catalog.ts';
import type { NetworkRef } from './nad-miss-resolver.ts';
import type { PodPolicy } from './pod.validator.ts';
import { allow, type JsonPatchOperation, type Verdict } from './verdict.ts';

export interface PodMutationContext {
  readonly nads: NadLookup;
  readonly policy: PodPolicy;
  /** Also mount the pod's labels and annotations at /etc/podnetinfo (network-resources-injector's volume). */
  readonly downwardApi: boolean;
}

export interface PodMutation extends Verdict {
  /** NADs not in the cache: the caller may read them and mutate again. */
  readonly unresolved?: readonly NetworkRef[];
}

export const podNetInfoVolume = 'podnetinfo';
export const podNetInfoPath = '/etc/podnetinfo';

/** A JSON pointer segment (RFC 6901): "~" and "/" escaped. */
function pointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function objectAt(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

function listAt(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Whether any container already asks for the resource (requests or limits): then it is the user's. */
function requestedByUser(containers: readonly unknown[], resource: string): boolean {
  return containers.some((c) => {
    const resources = objectAt(objectAt(c)?.resources);
    return (
      objectAt(resources?.requests)?.[resource] !== undefined ||
      objectAt(resources?.limits)?.[resource] !== undefined
    );
  });
}

function resourcePatch(first: JsonObject, counts: ReadonlyMap<string, number>): JsonPatchOperation[] {
  const base = '/spec/containers/0/resources';
  const resources = objectAt(first.resources);
  const ops: JsonPatchOperation[] = [];
  if (!resources) ops.push({ op: 'add', path: base, value: {} });
  for (const part of ['requests', 'limits'] as const) {
    if (!objectAt(resources?.[part])) ops.push({ op: 'add', path: `${base}/${part}`, value: {} });
  }
  for (const [resource, count] of counts) {
    for (const part of ['requests', 'limits'] as const) {
      ops.push({ op: 'add', path: `${base}/${part}/${pointer(resource)}`, value: String(count) });
    }
  }
  return ops;
}

function downwardApiPatch(spec: JsonObject, labels: boolean): JsonPatchOperation[] {
  const volumes = listAt(spec.volumes);
  if (volumes.some((v) => objectAt(v)?.name === podNetInfoVolume)) return [];
  const items: JsonValue[] = [
    ...(labels ? [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] : []),
    { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
  ];
  const ops: JsonPatchOperation[] = [];
  if (!Array.isArray(spec.volumes)) ops.push({ op: 'add', path: '/spec/volumes', value: [] });
  ops.push({
    op: 'add',
    path: '/spec/volumes/-',
    value: { name: podNetInfoVolume, downwardAPI: { items } },
  });
  listAt(spec.containers).forEach((container, index) => {
    const mounts = objectAt(container)?.volumeMounts;
    if (listAt(mounts).some((m) => objectAt(m)?.name === podNetInfoVolume)) return;
    if (!Array.isArray(mounts))
      ops.push({ op: 'add', path: `/spec/containers/${index}/volumeMounts`, value: [] });
    ops.push({
      op: 'add',
      path: `/spec/containers/${index}/volumeMounts/-`,
      value: { name: podNetInfoVolume, mountPath: podNetInfoPath, readOnly: true },
    });
  });
  return ops;
}

export function mutatePodReview(request: AdmissionRequest, context: PodMutationContext): PodMutation {
  if (request.operation !== 'CREATE') return allow();
  const pod = objectAt(request.object);
  const metadata = objectAt(pod?.metadata) ?? {};
  const annotations = objectAt(metadata.annotations) ?? {};
  if (annotations[networksAnnotation] === undefined && annotations[defaultNetworkAnnotation] === undefined)
    return allow();
  const spec = objectAt(pod?.spec);
  const containers = listAt(spec?.containers);
  const first = objectAt(containers[0]);
  if (!spec || !first) return allow();
  const namespace =
    typeof metadata.namespace === 'string' && metadata.namespace !== ''
      ? metadata.namespace
      : (request.namespace ?? 'default');
  const plan = planPodNetworks(annotations, namespace, context.policy, context.policy.runtimeIfName);
  if (plan.problems.length > 0) return allow();
  const { needs, unresolved } = podDeviceNeeds(plan, context.nads);
  const counts = new Map<string, number>();
  const warnings: string[] = [];
  for (const [resource, labels] of needs) {
    if (requestedByUser([...containers, ...listAt(spec.initContainers)], resource)) continue;
    counts.set(resource, labels.length);
  }
  const patch = counts.size > 0 ? resourcePatch(first, counts) : [];
  if (counts.size > 0) {
    const name = typeof first.name === 'string' ? first.name : 'the first container';
    const added = [...counts].map(([resource, count]) => `"${resource}": ${count}`).join(', ');
    warnings.push(
      `multinet added ${added} to the requests and limits of container "${name}" for the pod's device networks`,
    );
  }
  if (context.downwardApi && needs.size > 0) {
    patch.push(...downwardApiPatch(spec, Object.keys(objectAt(metadata.labels) ?? {}).length > 0));
  }
  return {
    ...allow(warnings),
    ...(patch.length > 0 ? { patch } : {}),
    ...(unresolved.length > 0 ? { unresolved } : {}),
  };
}
