import type { NodeNetworkState, NodeNetworkStateStatus } from '../node-state.ts';
import { checkCluster, checkNads, type ClusterSnapshot } from './cluster.ts';
import type { DaemonSetObject, NadObject, PodObject } from './objects.ts';
import { summarize, type Finding } from './report.ts';

const now = Date.parse('2026-12-06T12:00:00Z');
const confDir = '/etc/cni/net.d';

const agent: DaemonSetObject = {
  metadata: { name: 'multinet-agent', namespace: 'multinet' },
  spec: {
    selector: { matchLabels: { 'app.kubernetes.io/component': 'agent' } },
    template: {
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        containers: [{ name: 'agent', args: ['agent', `--cni-conf-dir=${confDir}`] }],
      },
    },
  },
  status: { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberReady: 1 },
};

const readyPod = (node: string): PodObject => ({
  metadata: { name: `multinet-agent-${node}`, namespace: 'multinet' },
  spec: { nodeName: node },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: 'agent', ready: true, restartCount: 0 }],
  },
});

function report(node: string, status: Partial<NodeNetworkStateStatus> = {}, labels = {}): NodeNetworkState {
  return {
    apiVersion: 'multinet.io/v1alpha1',
    kind: 'NodeNetworkState',
    metadata: { name: node, labels },
    status: {
      nodeName: node,
      agentVersion: '0.1.0',
      heartbeatTime: new Date(now - 10_000).toISOString(),
      cniBinDirs: ['/opt/cni/bin'],
      defaultNetwork: `${confDir}/10-flannel.conflist`,
      networkCount: 1,
      digests: [],
      problems: [],
      shim: { path: '/opt/cni/bin/multinet-cni', version: '0.1.0', matchesAgent: true },
      cniConfig: {
        path: `${confDir}/00-multinet.conflist`,
        present: true,
        runtimeFile: `${confDir}/00-multinet.conflist`,
        generatedFrom: `${confDir}/10-flannel.conflist`,
        externalChange: null,
      },
      ...status,
    },
  };
}

const healthy: ClusterSnapshot = {
  now,
  agent,
  agentPods: [readyPod('node-a')],
  deployments: ['controller', 'webhook'].map((component) => ({
    metadata: {
      name: `multinet-${component}`,
      namespace: 'multinet',
      labels: { 'app.kubernetes.io/component': component },
    },
    spec: { replicas: 2 },
    status: { readyReplicas: 2 },
  })),
  webhookConfigurations: [
    {
      metadata: { name: 'multinet-webhook' },
      webhooks: [
        { name: 'nads.multinet.io', clientConfig: { caBundle: 'Q0E=' } },
        { name: 'pods.multinet.io', clientConfig: { caBundle: 'Q0E=' } },
      ],
    },
  ],
  nodes: [
    {
      metadata: { name: 'node-a', labels: { 'kubernetes.io/os': 'linux' } },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    },
  ],
  nodeStates: [report('node-a')],
  nads: [
    {
      metadata: { name: 'macvlan-conf', namespace: 'default' },
      status: {
        nodes: '1/1',
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Valid' },
          { type: 'Ready', status: 'True', reason: 'Ready' },
          { type: 'Degraded', status: 'False', reason: 'AsExpected' },
        ],
      },
    },
  ],
  staleAfterMs: 180_000,
};

const wrong = (findings: Finding[]): string[] =>
  findings
    .filter((f) => f.severity !== 'ok')
    .map((f) => `${f.severity} ${f.subject} ${f.check}: ${f.message}`);

describe('multinet doctor on a cluster', () => {
  it('finds nothing wrong on a healthy one, and says what it checked', () => {
    const findings = checkCluster(healthy);
    expect(wrong(findings)).toEqual([]);
    expect(findings.map((f) => `${f.scope} ${f.check}`)).toEqual([
      'install agent',
      'install controller',
      'install webhook',
      'install webhook-configuration',
      'node agent',
      'node report',
      'node config',
      'node shim',
      'nad status',
    ]);
  });

  it('says multinet is not installed when no agent DaemonSet is found', () => {
    const findings = checkCluster({ ...healthy, agent: undefined, agentPods: [] });
    expect(wrong(findings)[0]).toMatch(/^error multinet agent: multinet is not installed/);
  });

  it('finds an agent stopped on a node (its DaemonSet does not select it), and what to do', () => {
    const stopped = {
      ...healthy,
      agent: {
        ...agent,
        spec: { ...agent.spec, template: { spec: { nodeSelector: { 'multinet.io/agent': 'off' } } } },
        status: { desiredNumberScheduled: 0, numberReady: 0 },
      },
      agentPods: [],
    };
    const findings = checkCluster(stopped).filter((f) => f.scope === 'node' && f.check === 'agent');
    expect(findings).toEqual([
      expect.objectContaining({
        severity: 'error',
        message: expect.stringContaining('nodeSelector wants multinet.io/agent=off'),
        fix: "label the node (kubectl label node node-a multinet.io/agent=off) or fix agent.nodeSelector in the chart's values",
      }),
    ]);
  });

  it('finds an agent that crashes, with its last exit', () => {
    const pod = readyPod('node-a');
    const crashing: PodObject = {
      ...pod,
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [
          {
            name: 'agent',
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error' } },
          },
        ],
      },
    };
    const [f] = checkCluster({ ...healthy, agentPods: [crashing] }).filter(
      (x) => x.check === 'agent' && x.scope === 'node',
    );
    expect(f).toMatchObject({
      severity: 'error',
      message: expect.stringContaining('CrashLoopBackOff; last exit 1 (Error); restarted 4 times'),
      fix: expect.stringContaining('kubectl -n multinet logs multinet-agent-node-a --previous'),
    });
  });

  it("finds a stale report, by age or by the controller's label", () => {
    const old = report('node-a', { heartbeatTime: new Date(now - 600_000).toISOString() });
    expect(wrong(checkCluster({ ...healthy, nodeStates: [old] }))).toEqual([
      expect.stringMatching(/^error node-a report: its NodeNetworkState is stale: last written 10 min ago/),
    ]);
    const labelled = report('node-a', {}, { 'multinet.io/stale': 'true' });
    expect(wrong(checkCluster({ ...healthy, nodeStates: [labelled] }))).toHaveLength(1);
  });

  it.each([
    [
      'the generated config missing',
      { present: false, runtimeFile: `${confDir}/10-flannel.conflist` },
      /00-multinet.conflist is missing: the runtime uses .*10-flannel.conflist/,
    ],
    [
      'another config sorting first',
      { runtimeFile: `${confDir}/00-aaa.conf` },
      /the runtime uses .*00-aaa.conf, which sorts before/,
    ],
    [
      'a config made from another default network',
      { generatedFrom: `${confDir}/05-old.conflist` },
      /was made from .*05-old.conflist, but the node's default network is .*10-flannel.conflist/,
    ],
  ])('finds %s', (_what, config, message) => {
    const state = report('node-a');
    const bad = report('node-a', { cniConfig: { ...state.status!.cniConfig!, ...config } });
    const problems = wrong(checkCluster({ ...healthy, nodeStates: [bad] }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('warns when something else removed the config and the agent wrote it again', () => {
    const state = report('node-a');
    const bad = report('node-a', {
      cniConfig: {
        ...state.status!.cniConfig!,
        externalChange: {
          time: new Date(now - 120_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          change: 'removed',
        },
      },
    });
    const findings = checkCluster({ ...healthy, nodeStates: [bad] }).filter((f) => f.check === 'config');
    expect(findings.map((f) => f.severity)).toEqual(['ok', 'warning']);
    expect(findings[1]!.message).toMatch(/^something else removed .*00-multinet.conflist 2 min ago/);
    expect(summarize(findings).warnings).toBe(1);
  });

  it('finds a shim of another release, naming both', () => {
    const bad = report('node-a', {
      shim: { path: '/opt/cni/bin/multinet-cni', version: '0.0.9', matchesAgent: false },
    });
    expect(wrong(checkCluster({ ...healthy, nodeStates: [bad] }))).toEqual([
      "error node-a shim: /opt/cni/bin/multinet-cni is multinet-cni 0.0.9, the agent is 0.1.0: the runtime's requests go through a shim of another release",
    ]);
  });

  it("finds a NAD that is not Ready, with the controller's reason, and what to do", () => {
    const nad: NadObject = {
      metadata: { name: 'bad-master', namespace: 'default' },
      status: {
        nodes: '0/1',
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Valid' },
          {
            type: 'Ready',
            status: 'False',
            reason: 'UnusableOnNodes',
            message: 'usable on 0/1 nodes: interface nosuch0 missing on node-a',
          },
          {
            type: 'Degraded',
            status: 'True',
            reason: 'InterfaceMissing',
            message: 'interface nosuch0 missing on node-a',
          },
        ],
      },
    };
    expect(checkNads({ ...healthy, nads: [nad] })).toEqual([
      {
        scope: 'nad',
        subject: 'default/bad-master',
        check: 'status',
        severity: 'error',
        message:
          'Ready False (UnusableOnNodes) (0/1 nodes): usable on 0/1 nodes: interface nosuch0 missing on node-a',
        fix: 'create the host interface on the nodes named above, or point the config at one they have (master, device)',
      },
    ]);
  });
});
