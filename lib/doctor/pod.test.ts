import type { NodeNetworkProblem, NodeNetworkState } from '../node-state.ts';
import type { NadObject, PodObject } from './objects.ts';
import { diagnosePod, type PodSnapshot } from './pod.ts';

const now = Date.parse('2026-12-06T12:00:00Z');
const readyNad: NadObject = {
  metadata: { name: 'macvlan-conf', namespace: 'default' },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
};

function state(problems: NodeNetworkProblem[]): NodeNetworkState {
  return {
    apiVersion: 'multinet.io/v1alpha1',
    kind: 'NodeNetworkState',
    metadata: { name: 'node-a' },
    status: {
      nodeName: 'node-a',
      agentVersion: '0.1.0',
      heartbeatTime: new Date(now - 5000).toISOString(),
      cniBinDirs: ['/opt/cni/bin'],
      defaultNetwork: '/etc/cni/net.d/10-flannel.conflist',
      networkCount: 2,
      digests: [],
      problems,
    },
  };
}

const agentPod: PodObject = {
  metadata: { name: 'multinet-agent-x', namespace: 'multinet' },
  spec: { nodeName: 'node-a' },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
};

function snapshot(pod: PodObject, extra: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    now,
    pod,
    events: [],
    nads: new Map([['default/macvlan-conf', readyNad]]),
    nodeState: state([]),
    agentPod,
    agentNamespace: 'multinet',
    policy: {
      defaultNetworks: [],
      namespaceIsolation: false,
      globalNamespaces: [],
      systemNamespaces: ['kube-system'],
    },
    staleAfterMs: 180_000,
    ...extra,
  };
}

const samplepod: PodObject = {
  metadata: {
    name: 'samplepod',
    namespace: 'default',
    uid: 'u1',
    annotations: {
      'k8s.v1.cni.cncf.io/networks': 'macvlan-conf',
      'k8s.v1.cni.cncf.io/network-status': JSON.stringify([
        { name: 'cbr0', interface: 'eth0', ips: ['198.51.100.4'], default: true },
        { name: 'default/macvlan-conf', interface: 'net1', ips: ['192.0.2.200'] },
      ]),
    },
  },
  spec: { nodeName: 'node-a' },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
};

describe('multinet doctor pod', () => {
  it('shows what a healthy pod asked for and got', () => {
    const d = diagnosePod(snapshot(samplepod));
    expect(d.requested).toEqual([
      {
        network: 'default/macvlan-conf',
        interface: 'net1',
        from: 'networks[0] "default/macvlan-conf"',
        attached: true,
      },
    ]);
    expect(d.findings.filter((f) => f.severity !== 'ok')).toEqual([]);
    expect(d.findings.map((f) => f.message)).toContain('net1: default/macvlan-conf, 192.0.2.200');
  });

  it('says why a pod stuck on a missing plugin has no network, and what to fix', () => {
    const stuck: PodObject = {
      metadata: {
        name: 'stuck',
        namespace: 'default',
        uid: 'u2',
        annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf,acme' },
      },
      spec: { nodeName: 'node-a' },
      status: {
        phase: 'Pending',
        containerStatuses: [{ name: 'app', state: { waiting: { reason: 'ContainerCreating' } } }],
      },
    };
    const d = diagnosePod(
      snapshot(stuck, {
        nads: new Map([
          ['default/macvlan-conf', readyNad],
          ['default/acme', { metadata: { name: 'acme', namespace: 'default' } }],
        ]),
        nodeState: state([
          { namespace: 'default', name: 'acme', configHash: 'x', missingPlugins: ['acme-cni'] },
        ]),
        events: [
          {
            type: 'Warning',
            reason: 'FailedCreatePodSandBox',
            message:
              'plugin type="multinet-cni" failed (add): failed to find plugin "acme-cni" in path [/opt/cni/bin]',
            count: 3,
            lastTimestamp: '2026-12-06T11:59:50Z',
          },
        ],
      }),
    );
    const errors = d.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => `${f.check}: ${f.message} | ${f.fix}`)).toEqual([
      'network: net1: default/macvlan-conf is not attached: plugin type="multinet-cni" failed (add): failed to find plugin "acme-cni" in path [/opt/cni/bin] | see the Events below',
      'network: net2: default/acme is not attached: node node-a has no plugin acme-cni (its CNI bin dirs: /opt/cni/bin) | install acme-cni into /opt/cni/bin on node-a (or use a plugin the node has); the pod is retried',
      expect.stringMatching(/^sandbox: Pending: FailedCreatePodSandBox \(3 times\): plugin type/),
    ]);
    expect(d.events).toHaveLength(1);
  });

  it('names a NAD that does not exist and an agent that is not running', () => {
    const pod: PodObject = {
      ...samplepod,
      metadata: { ...samplepod.metadata, annotations: { 'k8s.v1.cni.cncf.io/networks': 'other/nowhere' } },
      status: { phase: 'Pending' },
    };
    const d = diagnosePod(snapshot(pod, { nads: new Map([['other/nowhere', null]]), agentPod: undefined }));
    expect(d.findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([
      "no multinet agent runs on node node-a: the pod's networks cannot be attached (or released)",
      'net1: other/nowhere is not attached: NetworkAttachmentDefinition other/nowhere does not exist',
    ]);
  });

  it('names an annotation it cannot parse', () => {
    const pod: PodObject = {
      ...samplepod,
      metadata: { ...samplepod.metadata, annotations: { 'k8s.v1.cni.cncf.io/networks': 'Bad_Name' } },
    };
    expect(diagnosePod(snapshot(pod)).findings[0]).toMatchObject({ severity: 'error', check: 'annotation' });
  });
});
