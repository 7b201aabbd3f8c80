import {
  nodeStateApiVersion,
  nodeStateKind,
  nodeStatePath,
  type NodeNetworkState,
} from '../lib/node-state.ts';
import { MemoryApi } from '../test/doubles/memory-api.ts';
import { silentLog as log } from '../test/doubles/nad-world.ts';
import { NodeStaleMarker, staleLabel } from './node-stale.reconciler.ts';

const staleAfterMs = 20_000;
const t0 = Date.parse('2026-12-06T12:00:00Z');

function report(name: string, heartbeatMs: number, labels?: Record<string, string>): NodeNetworkState {
  return {
    apiVersion: nodeStateApiVersion,
    kind: nodeStateKind,
    metadata: { name, ...(labels ? { labels } : {}) },
    status: {
      nodeName: name,
      agentVersion: 'test',
      heartbeatTime: new Date(heartbeatMs).toISOString(),
      cniBinDirs: [],
      defaultNetwork: '',
      networkCount: 0,
      digests: [],
      problems: [],
    },
  };
}

/** The marker over an API holding `states` (the informer's cache reads the API's copy) at time `now`. */
function setup(states: NodeNetworkState[], now: number) {
  const api = new MemoryApi();
  for (const s of states) api.put(nodeStatePath(s.metadata.name), structuredClone(s) as never);
  const clock = { now };
  const marker = new NodeStaleMarker({
    states: { get: (name) => api.get(nodeStatePath(name)) as unknown as NodeNetworkState | undefined },
    rest: api,
    staleAfterMs,
    now: () => clock.now,
    log,
  });
  const label = (name: string): string | undefined =>
    (api.get(nodeStatePath(name)) as unknown as NodeNetworkState).metadata.labels?.[staleLabel];
  return { api, marker, clock, label };
}

describe('NodeStaleMarker', () => {
  it('marks a report older than --stale-after, and asks to look again when a fresh one would turn stale', async () => {
    const { marker, label } = setup([report('old', t0 - staleAfterMs - 1), report('fresh', t0 - 5000)], t0);
    expect(await marker.reconcile('old', new AbortController().signal)).toEqual({ outcome: 'marked' });
    expect(label('old')).toBe('true');
    expect(await marker.reconcile('fresh', new AbortController().signal)).toEqual({
      outcome: 'unchanged',
      requeueAfterMs: staleAfterMs - 5000 + 1,
    });
    expect(label('fresh')).toBeUndefined();
  });

  it('removes the mark once the agent reports again, keeping the other labels', async () => {
    const { marker, label, api } = setup(
      [report('back', t0 - 1000, { [staleLabel]: 'true', team: 'net' })],
      t0,
    );
    expect((await marker.reconcile('back', new AbortController().signal)).outcome).toBe('unmarked');
    expect(label('back')).toBeUndefined();
    expect((api.get(nodeStatePath('back')) as unknown as NodeNetworkState).metadata.labels).toEqual({
      team: 'net',
    });
  });

  it('writes nothing when the mark already agrees, and nothing for a report that is gone', async () => {
    const { marker, api } = setup([report('old', t0 - staleAfterMs - 1, { [staleLabel]: 'true' })], t0);
    const before = api.log.length;
    expect(await marker.reconcile('old', new AbortController().signal)).toEqual({ outcome: 'unchanged' });
    expect(await marker.reconcile('missing', new AbortController().signal)).toEqual({ outcome: 'gone' });
    expect(api.log.length).toBe(before);
  });

  it('marks a report without a heartbeat that parses (it never counts)', async () => {
    const broken = report('broken', t0);
    broken.status!.heartbeatTime = 'yesterday';
    const { marker, label } = setup([broken], t0);
    expect((await marker.reconcile('broken', new AbortController().signal)).outcome).toBe('marked');
    expect(label('broken')).toBe('true');
  });
});
