import {
  bucketDigests,
  bucketOf,
  type NodeNetworkProblem,
  type NodeNetworkState,
} from '../lib/node-state.ts';
import { NetworkIndex } from './network-index.ts';
import { NodeIndex } from './node-index.ts';

const t0 = Date.parse('2026-03-01T00:00:00Z');

function state(
  name: string,
  digests: string[],
  problems: NodeNetworkProblem[] = [],
  heartbeat = t0,
): NodeNetworkState {
  return {
    apiVersion: 'multinet.io/v1alpha1',
    kind: 'NodeNetworkState',
    metadata: { name },
    status: {
      nodeName: name,
      agentVersion: 'test',
      heartbeatTime: new Date(heartbeat).toISOString(),
      cniBinDirs: [],
      defaultNetwork: '',
      networkCount: 0,
      digests,
      problems,
    },
  };
}

const digests = (changed: Record<number, string> = {}): string[] =>
  Array.from({ length: 64 }, (_, b) => changed[b] ?? `d${b}`);

describe('NodeIndex', () => {
  it('affects every NAD when a node appears, goes or changes eligibility', () => {
    const index = new NodeIndex(180_000);
    expect(index.upsert(state('a', digests()), t0).all).toBe(true);
    expect(index.eligible().map((n) => n.name)).toEqual(['a']);
    expect(index.remove('a').all).toBe(true);
    expect(index.remove('a').all).toBe(false);
    expect(index.upsert(state('old', digests(), [], t0 - 200_000), t0).all).toBe(true);
    expect(index.stale()).toEqual(['old']);
    expect(index.upsert(state('old', digests(), [], t0), t0).all).toBe(true); // came back
    expect(index.stale()).toEqual([]);
  });

  it('affects only the buckets whose digest moved and the NADs whose problems changed', () => {
    const index = new NodeIndex(180_000);
    const p = (name: string, plugins: string[]): NodeNetworkProblem => ({
      namespace: 'ns',
      name,
      configHash: 'h',
      missingPlugins: plugins,
    });
    index.upsert(state('a', digests(), [p('one', ['macvlan']), p('two', ['ipvlan'])]), t0);
    const change = index.upsert(
      state('a', digests({ 3: 'x', 40: 'y' }), [p('two', ['ipvlan', 'tuning']), p('three', ['vlan'])]),
      t0 + 1000,
    );
    expect(change.all).toBe(false);
    expect([...change.buckets].sort((x, y) => x - y)).toEqual([3, 40]);
    expect([...change.keys].sort()).toEqual(['ns/one', 'ns/three', 'ns/two']);
    expect(index.problemsFor('ns/one')).toBeUndefined();
    expect(index.problemsFor('ns/two')?.get('a')?.missingPlugins).toEqual(['ipvlan', 'tuning']);
    // A heartbeat alone affects nothing.
    const beat = index.upsert(
      state(
        'a',
        digests({ 3: 'x', 40: 'y' }),
        [p('two', ['ipvlan', 'tuning']), p('three', ['vlan'])],
        t0 + 5000,
      ),
      t0 + 5000,
    );
    expect(beat).toMatchObject({ all: false });
    expect(beat.buckets.size + beat.keys.size).toBe(0);
  });

  it('turns nodes stale with time and says when the next one expires', () => {
    const index = new NodeIndex(60_000);
    index.upsert(state('a', digests(), [], t0), t0);
    index.upsert(state('b', digests(), [], t0 + 10_000), t0 + 10_000);
    expect(index.nextExpiry()).toBe(t0 + 60_001);
    expect(index.refresh(t0 + 60_000)).toBe(false);
    expect(index.refresh(t0 + 60_001)).toBe(true);
    expect(index.eligible().map((n) => n.name)).toEqual(['b']);
    expect(index.stale()).toEqual(['a']);
  });

  it('counts a node that never reported as stale', () => {
    const index = new NodeIndex(60_000);
    index.upsert(
      { apiVersion: 'multinet.io/v1alpha1', kind: 'NodeNetworkState', metadata: { name: 'new' } },
      t0,
    );
    expect(index.stale()).toEqual(['new']);
    expect(index.eligible()).toEqual([]);
  });
});

describe('NetworkIndex', () => {
  it('computes the digest an agent holding the same NADs reports, per bucket', () => {
    const index = new NetworkIndex();
    const nads = Array.from({ length: 300 }, (_, i) => ({
      key: `ns-${i % 7}/nad-${i}`,
      config: `{"n":${i}}`,
    }));
    for (const nad of nads) index.upsert(nad.key, nad.config);
    index.upsert('ns-0/empty', undefined);
    const held = [...index.keys()].map((key) => ({ key, hash: index.hashOf(key)! }));
    const expected = bucketDigests(held);
    for (let b = 0; b < 64; b++) expect(index.expectedDigest(b)).toBe(expected[b]);
  });

  it('says whether a change matters, and changes only the digest of that bucket', () => {
    const index = new NetworkIndex();
    expect(index.upsert('ns/a', '{}')).toBe(true);
    expect(index.upsert('ns/a', '{}')).toBe(false);
    const bucket = bucketOf('ns/a');
    const before = index.expectedDigest(bucket);
    const others = Array.from({ length: 64 }, (_, b) => index.expectedDigest(b));
    expect(index.upsert('ns/a', '{"x":1}')).toBe(true);
    expect(index.expectedDigest(bucket)).not.toBe(before);
    expect(
      Array.from({ length: 64 }, (_, b) => index.expectedDigest(b)).filter((d, b) => d !== others[b]),
    ).toHaveLength(1);
    expect(index.remove('ns/a')).toBe(true);
    expect(index.expectedDigest(bucket)).toBe('');
    expect(index.size).toBe(0);
  });

  /** Keys that all fall into one bucket. */
  function sameBucket(count: number): string[] {
    const keys: string[] = [];
    const target = bucketOf('ns/k0');
    for (let i = 0; keys.length < count; i++) if (bucketOf(`ns/k${i}`) === target) keys.push(`ns/k${i}`);
    return keys;
  }

  it('knows a node holds a NAD when its digest is of any remembered version that had it', () => {
    const index = new NetworkIndex();
    const [a, b, c] = sameBucket(3) as [string, string, string];
    const bucket = bucketOf(a);
    index.upsert(a, '{"a":1}');
    const withA = index.expectedDigest(bucket); // a node that saw only a
    index.upsert(b, '{"b":1}');
    const withAB = index.expectedDigest(bucket);
    index.upsert(c, '{"c":1}'); // the controller is ahead of every node

    expect(index.holds(a, withA)).toBe(true);
    expect(index.holds(b, withA)).toBe(false);
    expect(index.holds(b, withAB)).toBe(true);
    expect(index.holds(c, withAB)).toBe(false);
    expect(index.holds(c, index.expectedDigest(bucket))).toBe(true);
    expect(index.holds(a, 'unknown-digest')).toBe(false);
    expect(index.holds(a, undefined)).toBe(false);

    // a changes config: nodes at older versions hold the old config, not the current one.
    index.upsert(a, '{"a":2}');
    expect(index.holds(a, withAB)).toBe(false);
    expect(index.holds(b, withAB)).toBe(true);
    index.remove(b);
    expect(index.holds(b, withAB)).toBe(false);
  });

  it('forgets versions beyond its history', () => {
    const index = new NetworkIndex(4);
    const keys = sameBucket(8);
    const bucket = bucketOf(keys[0]!);
    index.upsert(keys[0]!, '{}');
    const early = index.expectedDigest(bucket);
    for (const key of keys.slice(1)) index.upsert(key, '{}');
    expect(index.holds(keys[0]!, early)).toBe(false);
    expect(index.holds(keys[0]!, index.expectedDigest(bucket))).toBe(true);
  });
});
