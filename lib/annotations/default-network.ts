/**
 * `v1.multus-cni.io/default-network`: replaces the cluster default network for one pod. As in Multus,
 * the value uses the same forms as the networks annotation and must select exactly one network.
 */
import { ValidationError } from '../errors.ts';
import { defaultNetworkAnnotation } from './keys.ts';
import { parseNetworksAnnotation, type NetworkSelectionElement } from './networks.ts';

export function parseDefaultNetworkAnnotation(
  value: string,
  defaultNamespace: string,
): NetworkSelectionElement {
  const elements = parseNetworksAnnotation(value, defaultNamespace, defaultNetworkAnnotation);
  if (elements.length !== 1) {
    throw ValidationError.single(
      defaultNetworkAnnotation,
      elements.length === 0
        ? 'must name one network (name or namespace/name)'
        : `names ${elements.length} networks; the default network must be exactly one`,
    );
  }
  return elements[0]!;
}
