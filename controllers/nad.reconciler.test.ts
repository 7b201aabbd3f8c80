import type { NadObject } from '../platform/kube/informers.ts';
import { KubeApiError } from '../platform/kube/rest.ts';
import { NadReconciler, type NadReconcileResult } from './nad.reconciler.ts';
import { findCondition, type NadStatus } from './nad-status.ts';
import { NetworkIndex } from './network-index.ts';
import { NodeIndex } from './node-index.ts';
import { WrittenCache } from './written-cache.ts';
import type { SimulatedNodeOptions } from '../test/doubles/simulated-agents.ts';
import {
  bridgeConfig as bridge,
  macvlanConfig as macvlan,
  nadPath,
  NadWorld,
  silentLog as log,
} from '../test/doubles/nad-world.ts';

const staleAfterMs = 180_000;

/**
 * Given caches (the API's objects as the informer delivered them, and the nodes' reports), a reconcile,
 * then the status it wrote and the result it returned: the shape of controller-runtime's tests.
 */
interface Harness {
  readonly world: NadWorld;
  readonly api: NadWorld['api'];
  readonly cache: NadWorld['cache'];
  readonly scheduler: NadWorld['scheduler'];
  readonly events: NadWorld['events'];
  readonly nodes: NodeIndex;
  readonly create: NadWorld['create'];
  readonly sync: () => void;
  /** A node reports what it holds (all NADs in the cache unless given). */
  report(name: string, options?: SimulatedNodeOptions, nads?: readonly NadObject[]): void;
  reconcile(key: string, signal?: AbortSignal): Promise<NadReconcileResult>;
  status(name: string, namespace?: string): NadStatus;
  patches(): number;
}

function harness(): Harness {
  const world = new NadWorld();
  const networks = new NetworkIndex();
  const nodes = new NodeIndex(staleAfterMs);
  // The informer's cache as the controller hands it to the reconciler: with its own writes laid over it.
  const cache = new WrittenCache(world.cache, () => world.scheduler.now());
  const reconciler = new NadReconciler(
    { staleAfterMs, progressIntervalMs: 5000 },
    {
      nads: cache,
      networks,
      nodes,
      rest: world.api,
      events: world.events,
      log,
      now: () => world.scheduler.now(),
    },
  );
  world.onDelivered = (nad) => {
    const key = `${nad.metadata.namespace}/${nad.metadata.name}`;
    networks.upsert(key, nad.spec?.config);
    cache.isEcho(nad);
  };
  return {
    world,
    api: world.api,
    cache: world.cache,
    scheduler: world.scheduler,
    events: world.events,
    nodes,
    create: (...args) => world.create(...args),
    sync: () => world.sync(),
    report: (name, options, nads) =>
      void nodes.upsert(world.nodeState(name, options, nads), world.scheduler.now()),
    reconcile: (key, signal = new AbortController().signal) => reconciler.reconcile(key, signal),
    status: (name, namespace) => world.status(name, namespace),
    patches: () => world.patches(),
  };
}

describe('NadReconciler.reconcile', () => {
  it('writes the status once, through /status, and not again when nothing changed', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    h.report('node-b');
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'written' });
    expect(h.api.log).toEqual([`PATCH ${nadPath('ns', 'net')}/status`]);
    const status = h.status('net');
    expect(findCondition(status, 'Ready')).toMatchObject({
      status: 'True',
      message: 'usable on all 2 nodes',
    });
    expect(status).toMatchObject({ nodes: '2/2', pluginType: 'bridge', observedGeneration: 1 });
    // The cache has not seen the write yet: the controller trusts its own write.
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'unchanged' });
    h.sync();
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'unchanged' });
    expect(h.patches()).toBe(1);
    expect(h.events.events).toEqual([]); // a healthy first status is no news
  });

  it('re-reads and recomputes after a conflict', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    // Someone else changes the object after the cache saw it.
    const path = nadPath('ns', 'net');
    h.api.put(path, {
      ...h.api.get(path)!,
      metadata: { ...(h.api.get(path)!.metadata as object), labels: { x: 'y' } },
    });
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'written' });
    expect(h.api.log).toEqual([`PATCH ${path}/status`, `GET ${path}`, `PATCH ${path}/status`]);
    expect(findCondition(h.status('net'), 'Ready')?.status).toBe('True');
  });

  it('gives up after repeated conflicts, and the error requeues the key', async () => {
    const h = harness();
    h.create('net', bridge());
    h.api.intercept = (request) => {
      if (request.method === 'PATCH') throw new KubeApiError(409, 'Conflict', 'modified');
    };
    await expect(h.reconcile('ns/net')).rejects.toThrow(/conflicted 4 times/);
  });

  it('treats a NAD deleted meanwhile as done', async () => {
    const h = harness();
    h.create('net', bridge());
    h.api.objects.clear();
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'deleted' });
    h.cache.objects.clear();
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'deleted' });
  });

  it('follows a config from invalid to valid, with Events for the transitions', async () => {
    const h = harness();
    h.create('net', JSON.stringify({ cniVersion: '1.0.0', type: 'bridge', ipam: { type: 'host-local' } }));
    h.report('node-a');
    await h.reconcile('ns/net');
    expect(findCondition(h.status('net'), 'Accepted')).toMatchObject({
      status: 'False',
      reason: 'InvalidConfig',
      message: expect.stringContaining('spec.config.ipam'),
    });
    expect(h.events.events).toEqual([
      expect.stringMatching(/^net Warning InvalidConfig: spec\.config\.ipam/),
    ]);
    h.sync();
    const path = nadPath('ns', 'net');
    await h.api.request({ method: 'PUT', path, body: { ...h.api.get(path)!, spec: { config: bridge() } } });
    h.sync();
    await h.reconcile('ns/net');
    expect(findCondition(h.status('net'), 'Ready')).toMatchObject({ status: 'False', reason: 'Propagating' });
    expect(h.status('net').observedGeneration).toBe(2);
    h.sync();
    h.report('node-a'); // the node picks up the new config
    await h.reconcile('ns/net');
    expect(findCondition(h.status('net'), 'Ready')).toMatchObject({ status: 'True', observedGeneration: 2 });
    expect(h.events.events.slice(1)).toEqual([
      'net Normal ConfigAccepted: the CNI config is valid',
      'net Normal Ready: usable on all 1 node',
    ]);
  });

  it('reports a plugin missing on one node as Degraded, and recovers when it is installed', async () => {
    const h = harness();
    h.create('mv', macvlan);
    h.report('node-a');
    h.report('node-b', { plugins: new Set(['bridge', 'host-local']) });
    await h.reconcile('ns/mv');
    expect(findCondition(h.status('mv'), 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'PluginMissing',
      message: 'plugin macvlan missing on node-b',
    });
    expect(h.status('mv').nodes).toBe('1/2');
    h.sync();
    h.report('node-b', { plugins: new Set(['bridge', 'host-local', 'macvlan']) });
    await h.reconcile('ns/mv');
    expect(findCondition(h.status('mv'), 'Degraded')?.status).toBe('False');
    expect(findCondition(h.status('mv'), 'Ready')?.status).toBe('True');
    expect(h.events.events).toEqual([
      'mv Warning PluginMissing: plugin macvlan missing on node-b',
      'mv Normal Ready: usable on all 2 nodes',
      'mv Normal Recovered: no node reports a problem any more',
    ]);
  });

  it('coalesces progress-only changes, writing them at most every progress interval', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    h.report('node-b', {}, []);
    h.report('node-c', {}, []);
    await h.reconcile('ns/net');
    expect(h.status('net').nodes).toBe('1/3');
    h.sync();
    h.report('node-b');
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'deferred', requeueAfterMs: 5000 });
    h.scheduler.advance(5000);
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'written' });
    expect(h.status('net').nodes).toBe('2/3');
    h.sync();
    h.report('node-c');
    // Becoming Ready is a transition: written at once.
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'written' });
    expect(findCondition(h.status('net'), 'Ready')?.status).toBe('True');
  });

  it('gives a brand-new NAD a short grace to reach the nodes before it writes Propagating', async () => {
    const h = harness();
    h.report('node-a', {}, []);
    h.create('net', bridge(), 'ns', h.scheduler.now());
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'deferred', requeueAfterMs: 2000 });
    h.report('node-a');
    h.scheduler.advance(500);
    await expect(h.reconcile('ns/net')).resolves.toEqual({ outcome: 'written' });
    expect(findCondition(h.status('net'), 'Ready')?.status).toBe('True'); // one write, straight to Ready

    h.create('slow', bridge(), 'ns', h.scheduler.now());
    await expect(h.reconcile('ns/slow')).resolves.toEqual({ outcome: 'deferred', requeueAfterMs: 2000 });
    h.scheduler.advance(2000);
    await expect(h.reconcile('ns/slow')).resolves.toEqual({ outcome: 'written' });
    expect(findCondition(h.status('slow'), 'Ready')?.reason).toBe('Propagating');
    // An invalid config is news at once.
    h.create('bad', '{"cniVersion":"1.0.0"}', 'ns', h.scheduler.now());
    await expect(h.reconcile('ns/bad')).resolves.toEqual({ outcome: 'written' });
  });

  it('names a node whose heartbeat went stale', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    h.report('node-old');
    await h.reconcile('ns/net');
    h.sync();
    h.scheduler.advance(staleAfterMs / 2);
    h.report('node-a'); // node-a keeps reporting, node-old does not
    h.scheduler.advance(staleAfterMs / 2 + 1);
    expect(h.nodes.refresh(h.scheduler.now())).toBe(true);
    expect(h.nodes.stale()).toEqual(['node-old']);
    await h.reconcile('ns/net');
    expect(findCondition(h.status('net'), 'Ready')?.message).toBe(
      'usable on all 1 node; not counting node-old: no agent report for more than 3m',
    );
  });

  it('writes nothing once its signal aborted (the replica lost its Lease)', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    const lost = new AbortController();
    lost.abort(new Error('lost the Lease'));
    await expect(h.reconcile('ns/net', lost.signal)).rejects.toThrow('lost the Lease');
    expect(h.patches()).toBe(0);
    expect(h.status('net')).toBeUndefined();
  });

  it('cancels a status write in flight when the signal aborts', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    const lost = new AbortController();
    let arrived!: () => void;
    const writing = new Promise<void>((resolve) => (arrived = resolve));
    h.api.intercept = (request) =>
      new Promise<void>((resolve) => {
        arrived();
        request.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    const reconcile = h.reconcile('ns/net', lost.signal);
    await writing;
    lost.abort(new Error('lost the Lease'));
    await expect(reconcile).rejects.toThrow('lost the Lease');
    expect(h.status('net')).toBeUndefined(); // the API never applied the write
  });
});
