import { defaultNetworkAnnotation, networksAnnotation } from '../../lib/annotations/keys.ts';
import { nodeNad, nodePod, trimNad, type NadObject, type PodObject } from './informers.ts';

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

function nad(): NadObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: {
      name: 'macvlan-conf',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '7',
      generation: 2,
      labels: { team: 'a' },
      annotations: { [lastApplied]: '{"a whole copy":true}', 'example.com/note': 'kept' },
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    } as NadObject['metadata'],
    spec: { config: '{"cniVersion":"1.0.0","type":"macvlan"}' },
    status: { conditions: [] },
  };
}

test('trimNad drops managedFields and the last-applied copy, and keeps what the controller and webhook read', () => {
  const trimmed = trimNad(nad());
  expect(trimmed.metadata).toEqual({
    name: 'macvlan-conf',
    namespace: 'default',
    uid: 'u1',
    resourceVersion: '7',
    generation: 2,
    labels: { team: 'a' },
    annotations: { 'example.com/note': 'kept' },
  });
  expect(trimmed.spec).toEqual(nad().spec);
  expect(trimmed.status).toEqual({ conditions: [] });
});

test('nodeNad keeps only the identity and spec.config the agent stores', () => {
  expect(nodeNad(nad())).toEqual({
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'macvlan-conf', namespace: 'default', uid: 'u1', resourceVersion: '7' },
    spec: { config: '{"cniVersion":"1.0.0","type":"macvlan"}' },
  });
});

test('nodePod keeps the identity and the two annotations that select networks', () => {
  const pod = {
    metadata: {
      name: 'web-1',
      namespace: 'default',
      uid: 'p1',
      resourceVersion: '9',
      labels: { app: 'web' },
      annotations: {
        [networksAnnotation]: 'macvlan-conf',
        [defaultNetworkAnnotation]: 'kube-system/calico',
        'k8s.v1.cni.cncf.io/network-status': '[{"name":"big"}]',
      },
      managedFields: [{ manager: 'kubelet' }],
    },
    spec: { containers: [{ name: 'c', image: 'x' }] },
  } as unknown as PodObject;
  expect(nodePod(pod)).toEqual({
    metadata: {
      name: 'web-1',
      namespace: 'default',
      uid: 'p1',
      resourceVersion: '9',
      annotations: { [networksAnnotation]: 'macvlan-conf', [defaultNetworkAnnotation]: 'kube-system/calico' },
    },
  });
  expect(nodePod({ metadata: { name: 'bare' } })).toEqual({ metadata: { name: 'bare', annotations: {} } });
});
