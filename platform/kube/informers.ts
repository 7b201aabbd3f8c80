/** Informers on multinet's resources, shared by the controller, the webhook and the agent. */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { nadGroup, nadPlural, nadVersion, type NetworkAttachmentDefinition } from '../../lib/nad.ts';
import {
  nodeStateGroup,
  nodeStatePlural,
  nodeStateVersion,
  type NodeNetworkState,
} from '../../lib/node-state.ts';
import { ResilientInformer } from './informer.ts';

export type NadObject = NetworkAttachmentDefinition & {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number };
};

/** Every NAD in the cluster. */
export function nadInformer(kc: KubeConfig, log: Logger): ResilientInformer<NadObject> {
  const api = kc.makeApiClient(CustomObjectsApi);
  return new ResilientInformer<NadObject>({
    kubeConfig: kc,
    path: `/apis/${nadGroup}/${nadVersion}/${nadPlural}`,
    list: async () =>
      (await api.listClusterCustomObject({
        group: nadGroup,
        version: nadVersion,
        plural: nadPlural,
      })) as KubernetesListObject<NadObject>,
    log: log.child({ informer: 'network-attachment-definitions' }),
  });
}

/** Every NodeNetworkState (one per node running the agent), or those matching a label selector. */
export function nodeStateInformer(
  kc: KubeConfig,
  log: Logger,
  labelSelector?: string,
): ResilientInformer<NodeNetworkState> {
  const api = kc.makeApiClient(CustomObjectsApi);
  return new ResilientInformer<NodeNetworkState>({
    kubeConfig: kc,
    path: `/apis/${nodeStateGroup}/${nodeStateVersion}/${nodeStatePlural}`,
    labelSelector,
    list: async () =>
      (await api.listClusterCustomObject({
        group: nodeStateGroup,
        version: nodeStateVersion,
        plural: nodeStatePlural,
        ...(labelSelector ? { labelSelector } : {}),
      })) as KubernetesListObject<NodeNetworkState>,
    log: log.child({ informer: 'nodenetworkstates' }),
  });
}

/** The pods of one node only (field selector spec.nodeName): an agent never caches the whole cluster's pods. */
export function nodePodInformer(
  kc: KubeConfig,
  nodeName: string,
  log: Logger,
): ResilientInformer<V1Pod & { metadata: { name: string } }> {
  const api = kc.makeApiClient(CoreV1Api);
  const fieldSelector = `spec.nodeName=${nodeName}`;
  return new ResilientInformer({
    kubeConfig: kc,
    path: '/api/v1/pods',
    fieldSelector,
    list: async () =>
      (await api.listPodForAllNamespaces({ fieldSelector })) as KubernetesListObject<
        V1Pod & { metadata: { name: string } }
      >,
    log: log.child({ informer: 'pods', nodeName }),
  });
}
