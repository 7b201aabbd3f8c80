import type { NodeNetworkProblem } from '../lib/node-state.ts';
import { judgeConfig, pluginTypeOf } from './config-verdict.ts';
import {
  computeNadStatus,
  findCondition,
  progressOnly,
  statusUpToDate,
  type ConfigVerdict,
  type NadStatus,
  type StatusInput,
} from './nad-status.ts';

const now = new Date('2026-01-02T03:04:05.678Z');
const valid: ConfigVerdict = { accepted: true, pluginType: 'macvlan', warnings: [] };

function input(overrides: Partial<StatusInput> = {}): StatusInput {
  return {
    generation: 1,
    previous: undefined,
    verdict: valid,
    hash: 'h1',
    nodes: [
      { name: 'node-a', holds: true },
      { name: 'node-b', holds: true },
    ],
    problems: undefined,
    staleNodes: [],
    staleAfterMs: 180_000,
    now,
    ...overrides,
  };
}

function summary(status: NadStatus): Record<string, string> {
  return Object.fromEntries(status.conditions.map((c) => [c.type, `${c.status} ${c.reason}: ${c.message}`]));
}

function problem(node: Partial<NodeNetworkProblem>): NodeNetworkProblem {
  return { namespace: 'ns', name: 'net', configHash: 'h1', ...node };
}

const nad = (config: unknown, name = 'net'): Parameters<typeof judgeConfig>[0] => ({
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name, namespace: 'ns' },
  spec: { config: typeof config === 'string' ? config : JSON.stringify(config) },
});

describe('computeNadStatus', () => {
  it('is Accepted and Ready when every eligible node holds the current config', () => {
    const status = computeNadStatus(input());
    expect(summary(status)).toEqual({
      Accepted: 'True Valid: the CNI config is valid',
      Ready: 'True Ready: usable on all 2 nodes',
      Degraded: 'False AsExpected: no node reports a problem with this network',
    });
    expect(status).toMatchObject({
      observedGeneration: 1,
      pluginType: 'macvlan',
      nodes: '2/2',
      readyNodes: 2,
      totalNodes: 2,
    });
    for (const c of status.conditions) {
      expect(c.observedGeneration).toBe(1);
      expect(c.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
    }
  });

  it('rejects an invalid config with the JSON paths of its first problems', () => {
    const verdict = judgeConfig(
      nad({
        cniVersion: '1.0.0',
        type: 'macvlan',
        master: 'eth0',
        ipam: { type: 'host-local', subnet: '192.0.2.0/24', rangeEnd: '198.51.100.9' },
      }),
    );
    expect(verdict.accepted).toBe(false);
    const status = computeNadStatus(input({ verdict }));
    expect(summary(status)).toEqual({
      Accepted:
        'False InvalidConfig: spec.config.ipam.rangeEnd: "198.51.100.9" is not inside subnet "192.0.2.0/24"',
      Ready: 'False InvalidConfig: the config is not valid; see the Accepted condition',
      Degraded: 'False NotAccepted: the config is not valid; see the Accepted condition',
    });
    expect(status).toMatchObject({ pluginType: 'macvlan', nodes: '0/2', readyNodes: 0, totalNodes: 2 });
  });

  it('lists at most three problems and counts the rest', () => {
    const verdict: ConfigVerdict = {
      accepted: false,
      pluginType: '',
      problems: ['a', 'b', 'c', 'd', 'e'].map((p) => ({ path: `spec.config.${p}`, message: 'is wrong' })),
    };
    expect(findCondition(computeNadStatus(input({ verdict })), 'Accepted')?.message).toBe(
      'spec.config.a: is wrong; spec.config.b: is wrong; spec.config.c: is wrong (and 2 more)',
    );
  });

  it('is Degraded and not Ready when a plugin is missing on some nodes', () => {
    const nodes = ['node-a', 'node-b', 'node-c', 'node-d'].map((name) => ({ name, holds: true }));
    const problems = new Map([
      ['node-b', problem({ missingPlugins: ['macvlan'] })],
      ['node-c', problem({ missingPlugins: ['macvlan', 'host-local'] })],
      ['node-a', problem({ missingInterfaces: ['ens5'] })],
    ]);
    const status = computeNadStatus(input({ nodes, problems }));
    expect(summary(status)).toEqual({
      Accepted: 'True Valid: the CNI config is valid',
      Ready:
        'False UnusableOnNodes: usable on 1/4 nodes: plugin host-local missing on node-c; plugin macvlan missing on node-b, node-c; interface ens5 missing on node-a',
      Degraded:
        'True UnusableOnNodes: plugin host-local missing on node-c; plugin macvlan missing on node-b, node-c; interface ens5 missing on node-a',
    });
    expect(status.nodes).toBe('1/4');
  });

  it('names the specific reason when one kind of problem is reported', () => {
    const problems = new Map([['node-b', problem({ missingPlugins: ['macvlan'] })]]);
    const status = computeNadStatus(input({ problems }));
    expect(findCondition(status, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'PluginMissing',
      message: 'plugin macvlan missing on node-b',
    });
    const errors = new Map([['node-a', problem({ error: 'cannot write the config file' })]]);
    expect(findCondition(computeNadStatus(input({ problems: errors })), 'Degraded')).toMatchObject({
      reason: 'NodeError',
      message: 'cannot write the config file (on node-a)',
    });
  });

  it('ignores problems about an older config and problems of nodes that are not eligible', () => {
    const problems = new Map([
      ['node-a', problem({ configHash: 'old', missingPlugins: ['macvlan'] })],
      ['node-z', problem({ missingPlugins: ['macvlan'] })],
    ]);
    expect(findCondition(computeNadStatus(input({ problems })), 'Degraded')?.status).toBe('False');
  });

  it('waits for fresh presence after a spec change, naming the nodes still syncing', () => {
    const before = computeNadStatus(input());
    const status = computeNadStatus(
      input({
        generation: 2,
        previous: before,
        hash: 'h2',
        nodes: [
          { name: 'node-a', holds: true },
          { name: 'node-b', holds: false },
        ],
      }),
    );
    expect(findCondition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Propagating',
      message: 'usable on 1/2 nodes; waiting for node-b to pick up the current config',
      observedGeneration: 2,
    });
    expect(status).toMatchObject({ observedGeneration: 2, nodes: '1/2' });
  });

  it('keeps a NAD Ready while its bucket merely resyncs on a node at the same generation', () => {
    const ready = computeNadStatus(input());
    const resyncing = input({
      previous: ready,
      nodes: [
        { name: 'node-a', holds: true },
        { name: 'node-b', holds: false }, // its bucket digest is of a version the controller forgot
      ],
    });
    const status = computeNadStatus(resyncing);
    expect(findCondition(status, 'Ready')?.status).toBe('True');
    expect(statusUpToDate(ready, status)).toBe(true);
    // ... but a NAD that was not Ready yet waits for the node.
    const fresh = computeNadStatus({ ...resyncing, previous: undefined });
    expect(findCondition(fresh, 'Ready')?.reason).toBe('Propagating');
  });

  it('names stale nodes instead of dropping them silently', () => {
    const status = computeNadStatus(input({ staleNodes: ['node-x', 'node-y'] }));
    expect(findCondition(status, 'Ready')?.message).toBe(
      'usable on all 2 nodes; not counting node-x, node-y: no agent report for more than 3m',
    );
    const none = computeNadStatus(input({ nodes: [], staleNodes: ['node-x'] }));
    expect(findCondition(none, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'NoNodes',
      message:
        'no node reports a fresh NodeNetworkState (is the multinet agent running?); not counting node-x: no agent report for more than 3m',
    });
    expect(none.nodes).toBe('0/0');
  });

  it('shortens long node lists', () => {
    const nodes = Array.from({ length: 14 }, (_, i) => ({
      name: `n${String(i).padStart(2, '0')}`,
      holds: false,
    }));
    expect(findCondition(computeNadStatus(input({ nodes })), 'Ready')?.message).toBe(
      'usable on 0/14 nodes; waiting for n00, n01, n02, n03, n04, n05, n06, n07, n08, n09 and 4 more to pick up the current config',
    );
  });

  it('keeps lastTransitionTime while a condition keeps its status, and moves it on a change', () => {
    const first = computeNadStatus(input());
    const later = new Date('2026-01-02T04:00:00Z');
    const same = computeNadStatus(input({ previous: first, now: later, staleNodes: ['node-x'] }));
    expect(findCondition(same, 'Ready')?.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
    expect(findCondition(same, 'Ready')?.message).toContain('not counting node-x');
    const problems = new Map([['node-a', problem({ missingPlugins: ['macvlan'] })]]);
    const changed = computeNadStatus(input({ previous: first, now: later, problems }));
    expect(findCondition(changed, 'Ready')?.lastTransitionTime).toBe('2026-01-02T04:00:00Z');
    expect(findCondition(changed, 'Accepted')?.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
  });

  it('keeps conditions that other writers added', () => {
    const previous = {
      conditions: [
        {
          type: 'example.com/Audited',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: 'x',
          reason: 'Ok',
          message: '',
        },
      ],
    };
    const status = computeNadStatus(input({ previous }));
    expect(status.conditions.map((c) => c.type)).toEqual([
      'Accepted',
      'Ready',
      'Degraded',
      'example.com/Audited',
    ]);
  });

  it('describes an empty config and reports warnings in the Accepted message', () => {
    const empty = judgeConfig(nad(''));
    expect(findCondition(computeNadStatus(input({ verdict: empty })), 'Accepted')?.message).toBe(
      'spec.config is empty: each node uses its CNI config file named "net"',
    );
    const typo = judgeConfig(nad({ cniVersion: '1.0.0', type: 'macvlan', master: 'eth0', mastr: 'eth1' }));
    expect(findCondition(computeNadStatus(input({ verdict: typo })), 'Accepted')?.message).toMatch(
      /^the CNI config is valid \(1 warning: spec\.config\.mastr: unknown field/,
    );
  });
});

describe('statusUpToDate and progressOnly', () => {
  it('tells an unchanged status from a changed one', () => {
    const status = computeNadStatus(input());
    expect(statusUpToDate(JSON.parse(JSON.stringify(status)), status)).toBe(true);
    expect(statusUpToDate(undefined, status)).toBe(false);
    expect(statusUpToDate({ ...status, nodes: '1/2' }, status)).toBe(false);
  });

  it('calls a change progress when only counts and messages move', () => {
    const syncing = (holds: boolean[]): NadStatus =>
      computeNadStatus(input({ nodes: holds.map((h, i) => ({ name: `node-${i}`, holds: h })) }));
    const oneOfThree = syncing([true, false, false]);
    const twoOfThree = syncing([true, true, false]);
    const all = syncing([true, true, true]);
    expect(progressOnly(oneOfThree, twoOfThree)).toBe(true);
    expect(progressOnly(twoOfThree, all)).toBe(false); // Ready turns True: written at once
    expect(progressOnly(undefined, oneOfThree)).toBe(false);
  });
});

describe('pluginTypeOf', () => {
  it('joins the plugin types of a list and reads loosely', () => {
    expect(pluginTypeOf('{"plugins":[{"type":"ptp"},{"type":"tuning"}]}')).toBe('ptp+tuning');
    expect(pluginTypeOf('{"type":"macvlan"}')).toBe('macvlan');
    expect(pluginTypeOf('not json')).toBe('');
    expect(pluginTypeOf(undefined)).toBe('');
  });
});
