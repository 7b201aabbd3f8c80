import winston from 'winston';
import type { EventRecorder, EventType } from '../platform/kube/events.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { KubeApiError } from '../platform/kube/rest.ts';
import { bucketOf, type NodeNetworkState } from '../lib/node-state.ts';
import { createControllerMetrics, type ControllerMetrics } from './metrics.ts';
import { NadController, type NadCache } from './nad.controller.ts';
import { findCondition, type NadStatus } from './nad-status.ts';
import { ManualScheduler } from '../test/doubles/manual-scheduler.ts';
import { MemoryApi } from '../test/doubles/memory-api.ts';
import { simulatedStatus, type SimulatedNodeOptions } from '../test/doubles/simulated-agents.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const staleAfterMs = 180_000;
const nadPath = (ns: string, name: string): string =>
  `/apis/k8s.cni.cncf.io/v1/namespaces/${ns}/network-attachment-definitions/${name}`;

const bridge = (subnet = '192.0.2.0/24'): string =>
  JSON.stringify({
    cniVersion: '1.0.0',
    type: 'bridge',
    bridge: 'br0',
    ipam: { type: 'host-local', subnet },
  });
const macvlan = JSON.stringify({
  cniVersion: '1.0.0',
  type: 'macvlan',
  master: 'eth0',
  ipam: { type: 'host-local', subnet: '198.51.100.0/24' },
});

/** The informer cache, fed from the memory API when the test says the watch delivered. */
class FakeCache implements NadCache {
  readonly objects = new Map<string, NadObject>();
  get(name: string, namespace?: string): NadObject | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }
  list(): NadObject[] {
    return [...this.objects.values()];
  }
}

class RecordedEvents implements EventRecorder {
  readonly events: string[] = [];
  event(object: { name: string }, type: EventType, reason: string, message: string): void {
    this.events.push(`${object.name} ${type} ${reason}: ${message}`);
  }
}

interface Harness {
  readonly api: MemoryApi;
  readonly cache: FakeCache;
  readonly scheduler: ManualScheduler;
  readonly controller: NadController;
  readonly events: RecordedEvents;
  readonly metrics: ControllerMetrics;
  /** Creates a NAD in the API and delivers it to the cache. */
  create(name: string, config: string, namespace?: string, createdAt?: number): void;
  /** Delivers the API's current objects to the cache, as the watch would. */
  sync(): void;
  /** A node reports what it holds (all NADs in the cache unless given). */
  report(name: string, options?: SimulatedNodeOptions, nads?: readonly NadObject[]): void;
  status(name: string, namespace?: string): NadStatus;
  patches(): number;
}

function harness(): Harness {
  const api = new MemoryApi();
  const cache = new FakeCache();
  const scheduler = new ManualScheduler(Date.parse('2026-03-01T00:00:00Z'));
  const events = new RecordedEvents();
  const metrics = createControllerMetrics(
    {
      queueDepth: () => controller.queueDepth,
      nadsByReady: () => controller.countByReady(),
      nodes: () => ({ eligible: 0, stale: 0 }),
    },
    false,
  );
  const controller = new NadController(
    { staleAfterMs, workers: 2, nodeBatchMs: 100, progressIntervalMs: 5000 },
    { nads: cache, rest: api, events, log, metrics, now: () => scheduler.now(), scheduler },
  );
  const sync = (): void => {
    for (const [path, object] of api.objects) {
      if (!path.includes('/network-attachment-definitions/')) continue;
      const nad = structuredClone(object) as unknown as NadObject;
      const key = `${nad.metadata.namespace}/${nad.metadata.name}`;
      if (cache.objects.get(key)?.metadata.resourceVersion === nad.metadata.resourceVersion) continue;
      cache.objects.set(key, nad);
      controller.nadChanged(nad);
    }
  };
  return {
    api,
    cache,
    scheduler,
    controller,
    events,
    metrics,
    create(name, config, namespace = 'ns', createdAt) {
      api.put(nadPath(namespace, name), {
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: {
          name,
          namespace,
          ...(createdAt !== undefined ? { creationTimestamp: new Date(createdAt).toISOString() } : {}),
        },
        spec: { config },
      });
      sync();
    },
    sync,
    report(name, options = {}, nads = cache.list()) {
      const state: NodeNetworkState = {
        apiVersion: 'multinet.io/v1alpha1',
        kind: 'NodeNetworkState',
        metadata: { name },
        status: simulatedStatus(name, nads, options, new Date(scheduler.now())),
      };
      controller.nodeChanged(state);
    },
    status(name, namespace = 'ns') {
      return api.get(nadPath(namespace, name))!.status as NadStatus;
    },
    patches: () => api.log.filter((l) => l.startsWith('PATCH')).length,
  };
}

async function reconciles(metrics: ControllerMetrics): Promise<Record<string, number>> {
  const values = (await metrics.reconcileDuration.get()).values;
  return Object.fromEntries(
    values
      .filter((v) => v.metricName === 'multinet_controller_reconcile_duration_seconds_count')
      .map((v) => [String(v.labels.result), v.value]),
  );
}

async function settle(h: Harness): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (h.controller.queueDepth === 0 && i > 5) return;
  }
}

describe('NadController.reconcile', () => {
  it('writes the status once, through /status, and not again when nothing changed', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    h.report('node-b');
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('written');
    expect(h.api.log).toEqual([`PATCH ${nadPath('ns', 'net')}/status`]);
    const status = h.status('net');
    expect(findCondition(status, 'Ready')).toMatchObject({
      status: 'True',
      message: 'usable on all 2 nodes',
    });
    expect(status).toMatchObject({ nodes: '2/2', pluginType: 'bridge', observedGeneration: 1 });
    // The cache has not seen the write yet: the controller trusts its own write.
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('unchanged');
    h.sync();
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('unchanged');
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
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('written');
    expect(h.api.log).toEqual([`PATCH ${path}/status`, `GET ${path}`, `PATCH ${path}/status`]);
    expect(findCondition(h.status('net'), 'Ready')?.status).toBe('True');
  });

  it('gives up after repeated conflicts, and the error requeues the key', async () => {
    const h = harness();
    h.create('net', bridge());
    h.api.intercept = (request) => {
      if (request.method === 'PATCH') throw new KubeApiError(409, 'Conflict', 'modified');
    };
    await expect(h.controller.reconcile('ns/net')).rejects.toThrow(/conflicted 4 times/);
  });

  it('treats a NAD deleted meanwhile as done', async () => {
    const h = harness();
    h.create('net', bridge());
    h.api.objects.clear();
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('deleted');
    h.cache.objects.clear();
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('deleted');
  });

  it('follows a config from invalid to valid, with Events for the transitions', async () => {
    const h = harness();
    h.create('net', JSON.stringify({ cniVersion: '1.0.0', type: 'bridge', ipam: { type: 'host-local' } }));
    h.report('node-a');
    await h.controller.reconcile('ns/net');
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
    await h.controller.reconcile('ns/net');
    expect(findCondition(h.status('net'), 'Ready')).toMatchObject({ status: 'False', reason: 'Propagating' });
    expect(h.status('net').observedGeneration).toBe(2);
    h.sync();
    h.report('node-a'); // the node picks up the new config
    await h.controller.reconcile('ns/net');
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
    await h.controller.reconcile('ns/mv');
    expect(findCondition(h.status('mv'), 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'PluginMissing',
      message: 'plugin macvlan missing on node-b',
    });
    expect(h.status('mv').nodes).toBe('1/2');
    h.sync();
    h.report('node-b', { plugins: new Set(['bridge', 'host-local', 'macvlan']) });
    await h.controller.reconcile('ns/mv');
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
    await h.controller.reconcile('ns/net');
    expect(h.status('net').nodes).toBe('1/3');
    h.sync();
    h.report('node-b');
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('deferred');
    h.scheduler.advance(5000);
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('written');
    expect(h.status('net').nodes).toBe('2/3');
    h.sync();
    h.report('node-c');
    // Becoming Ready is a transition: written at once.
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('written');
    expect(findCondition(h.status('net'), 'Ready')?.status).toBe('True');
  });

  it('gives a brand-new NAD a short grace to reach the nodes before it writes Propagating', async () => {
    const h = harness();
    h.report('node-a', {}, []);
    h.create('net', bridge(), 'ns', h.scheduler.now());
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('deferred');
    h.report('node-a');
    h.scheduler.advance(500);
    await expect(h.controller.reconcile('ns/net')).resolves.toBe('written');
    expect(findCondition(h.status('net'), 'Ready')?.status).toBe('True'); // one write, straight to Ready

    h.create('slow', bridge(), 'ns', h.scheduler.now());
    await expect(h.controller.reconcile('ns/slow')).resolves.toBe('deferred');
    h.scheduler.advance(2000);
    await expect(h.controller.reconcile('ns/slow')).resolves.toBe('written');
    expect(findCondition(h.status('slow'), 'Ready')?.reason).toBe('Propagating');
    // An invalid config is news at once.
    h.create('bad', '{"cniVersion":"1.0.0"}', 'ns', h.scheduler.now());
    await expect(h.controller.reconcile('ns/bad')).resolves.toBe('written');
  });

  it('names a node whose heartbeat went stale, when the stale timer fires', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    h.report('node-old');
    await h.controller.reconcile('ns/net');
    h.sync();
    h.scheduler.advance(staleAfterMs / 2);
    h.report('node-a'); // node-a keeps reporting, node-old does not
    h.scheduler.advance(staleAfterMs / 2 + 1);
    expect(h.controller.nodes.stale()).toEqual(['node-old']);
    await h.controller.reconcile('ns/net');
    expect(findCondition(h.status('net'), 'Ready')?.message).toBe(
      'usable on all 1 node; not counting node-old: no agent report for more than 3m',
    );
  });
});

describe('NadController.run', () => {
  it('reconciles every NAD, then only those in buckets a node report changed', async () => {
    const h = harness();
    for (let i = 0; i < 200; i++) h.create(`net-${i}`, bridge());
    h.report('node-a');
    h.scheduler.advance(100); // the report is flushed before the controller leads: nothing to queue yet
    const stop = new AbortController();
    const running = h.controller.run(stop.signal);
    await settle(h);
    expect(await reconciles(h.metrics)).toEqual({ written: 200 });
    h.sync(); // the watch delivers the controller's own writes: no requeue
    await settle(h);
    expect(await reconciles(h.metrics)).toEqual({ written: 200 });

    // A new NAD (Propagating until node-a holds it); node-a reports the changed bucket, and only that
    // bucket's NADs are looked at again.
    h.create('extra', bridge());
    await settle(h);
    expect(findCondition(h.status('extra'), 'Ready')?.reason).toBe('Propagating');
    h.report('node-a');
    h.scheduler.advance(100);
    await settle(h);
    const bucket = bucketOf('ns/extra');
    const inBucket = [...h.controller.networks.keysInBucket(bucket)].length;
    const counts = await reconciles(h.metrics);
    expect(counts.written).toBe(202);
    expect(counts.unchanged).toBe(inBucket - 1);
    expect(findCondition(h.status('extra'), 'Ready')?.status).toBe('True');

    stop.abort();
    await running;
    h.controller.dispose();
  });

  it('requeues a failing reconcile with backoff', async () => {
    const h = harness();
    h.create('net', bridge());
    h.report('node-a');
    let failures = 2;
    h.api.intercept = () => {
      if (failures-- > 0) throw new KubeApiError(500, 'InternalError', 'etcd is unhappy');
    };
    const stop = new AbortController();
    const running = h.controller.run(stop.signal);
    await settle(h);
    expect(await reconciles(h.metrics)).toEqual({ error: 1 });
    h.scheduler.advance(100);
    await settle(h);
    h.scheduler.advance(200);
    await settle(h);
    expect(await reconciles(h.metrics)).toMatchObject({ error: 2, written: 1 });
    expect((await h.metrics.reconcileErrors.get()).values[0]?.value).toBe(2);
    stop.abort();
    await running;
    h.controller.dispose();
  });
});
