/**
 * Resolving a pod's network selections against NADs: the policy (namespace isolation) and the
 * messages, shared by the admission webhook (which rejects) and the node agent (which fails the
 * ADD), so both say the same thing about the same pod.
 */
import type { NetworkSelectionElement } from './annotations/networks.ts';
import type { JsonObject, JsonValue } from './safe-json.ts';

export interface IsolationPolicy {
  /** When on, a pod may only select NADs in its own namespace or in a global namespace. */
  readonly namespaceIsolation: boolean;
  readonly globalNamespaces: readonly string[];
}

/** `networks[1] "other/macvlan-conf"`: how messages name a selection. */
export function selectionLabel(
  index: number,
  element: Pick<NetworkSelectionElement, 'namespace' | 'name'>,
  root = 'networks',
): string {
  return `${root}[${index}] "${element.namespace}/${element.name}"`;
}

/** Why the pod may not use the element's namespace, or undefined when it may. */
export function isolationViolation(
  podNamespace: string,
  element: Pick<NetworkSelectionElement, 'namespace'>,
  policy: IsolationPolicy,
): string | undefined {
  if (
    !policy.namespaceIsolation ||
    element.namespace === podNamespace ||
    policy.globalNamespaces.includes(element.namespace)
  ) {
    return undefined;
  }
  const globals =
    policy.globalNamespaces.length > 0
      ? ` or a global namespace (${policy.globalNamespaces.join(', ')})`
      : '';
  return `namespace isolation is on: a pod in namespace "${podNamespace}" may only use NetworkAttachmentDefinitions in "${podNamespace}"${globals}`;
}

export function notFoundMessage(element: Pick<NetworkSelectionElement, 'namespace'>): string {
  return `NetworkAttachmentDefinition not found in namespace "${element.namespace}"`;
}

/**
 * The selection fields that reach a plugin as CNI capability arguments (runtimeConfig), and the
 * capability each needs: the agent passes them (to plugins that declare the capability), the webhook
 * checks the NAD declares them.
 */
export const selectionCapabilities = [
  { field: 'ips', capability: 'ips' },
  { field: 'mac', capability: 'mac' },
  { field: 'infiniband-guid', capability: 'infinibandGUID' },
  { field: 'portMappings', capability: 'portMappings' },
  { field: 'bandwidth', capability: 'bandwidth' },
] as const satisfies ReadonlyArray<{ field: keyof NetworkSelectionElement; capability: string }>;

export type CapabilityField = (typeof selectionCapabilities)[number]['field'];

/** The capability arguments a selection asks for, under the CNI capability names. */
export function selectionRuntimeConfig(element: NetworkSelectionElement): JsonObject {
  const out: Record<string, JsonValue> = {};
  for (const { field, capability } of selectionCapabilities) {
    const value = element[field];
    if (value !== undefined) out[capability] = structuredClone(value) as unknown as JsonValue;
  }
  return out;
}
