import { computeNadStatus, type ConfigVerdict, type NadStatus, type StatusInput } from './nad-status.ts';
import { statusEvents } from './status-events.ts';

const base: StatusInput = {
  generation: 1,
  previous: undefined,
  verdict: { accepted: true, pluginType: 'bridge', warnings: [] },
  hash: 'h',
  nodes: [{ name: 'node-a', holds: true }],
  problems: undefined,
  staleNodes: [],
  staleAfterMs: 180_000,
  now: new Date('2026-01-01T00:00:00Z'),
};
const invalid: ConfigVerdict = {
  accepted: false,
  pluginType: 'bridge',
  problems: [{ path: 'spec.config.ipam.subnet', message: 'is required' }],
};
const status = (overrides: Partial<StatusInput>): NadStatus => computeNadStatus({ ...base, ...overrides });
const events = (previous: NadStatus | undefined, next: NadStatus): string[] =>
  statusEvents(previous, next).map((e) => `${e.type} ${e.reason}: ${e.message}`);

describe('statusEvents', () => {
  const ready = status({});
  const bad = status({ verdict: invalid });
  const degraded = status({
    problems: new Map([
      ['node-a', { namespace: 'ns', name: 'n', configHash: 'h', missingPlugins: ['bridge'] }],
    ]),
  });
  const propagating = status({
    generation: 2,
    hash: 'h2',
    nodes: [{ name: 'node-a', holds: false }],
    previous: ready,
  });

  it('is quiet about a healthy first status, loud about a bad one', () => {
    expect(events(undefined, ready)).toEqual([]);
    expect(events(undefined, bad)).toEqual(['Warning InvalidConfig: spec.config.ipam.subnet: is required']);
    expect(events(undefined, degraded)).toEqual(['Warning PluginMissing: plugin bridge missing on node-a']);
  });

  it('announces each transition once', () => {
    expect(events(ready, bad)).toEqual(['Warning InvalidConfig: spec.config.ipam.subnet: is required']);
    expect(events(bad, bad)).toEqual([]);
    expect(events(bad, ready)).toEqual([
      'Normal ConfigAccepted: the CNI config is valid',
      'Normal Ready: usable on all 1 node',
    ]);
    expect(events(ready, degraded)).toEqual([
      'Warning NotReady: usable on 0/1 nodes: plugin bridge missing on node-a',
      'Warning PluginMissing: plugin bridge missing on node-a',
    ]);
    expect(events(degraded, ready)).toEqual([
      'Normal Ready: usable on all 1 node',
      'Normal Recovered: no node reports a problem any more',
    ]);
    expect(events(ready, propagating)).toEqual([
      'Normal Propagating: usable on 0/1 nodes; waiting for node-a to pick up the current config',
    ]);
    expect(events(ready, ready)).toEqual([]);
  });
});
