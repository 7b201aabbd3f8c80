/**
 * The NAD controller's watches and its runner together: which NADs a NAD or node event enqueues, the
 * node-report batching, the stale timer, and the reconcile loop while leading.
 */
import { KubeApiError } from '../platform/kube/rest.ts';
import { bucketOf } from '../lib/node-state.ts';
import { createControllerMetrics, type ControllerMetrics } from './metrics.ts';
import { NadController } from './nad.controller.ts';
import { findCondition } from './nad-status.ts';
import type { SimulatedNodeOptions } from '../test/doubles/simulated-agents.ts';
import { bridgeConfig as bridge, NadWorld, silentLog as log } from '../test/doubles/nad-world.ts';
import type { NadObject } from '../platform/kube/informers.ts';

const staleAfterMs = 180_000;

interface Harness {
  readonly world: NadWorld;
  readonly controller: NadController;
  readonly metrics: ControllerMetrics;
  report(name: string, options?: SimulatedNodeOptions, nads?: readonly NadObject[]): void;
}

function harness(): Harness {
  const world = new NadWorld();
  const metrics = createControllerMetrics(false);
  const controller = new NadController(
    { staleAfterMs, workers: 2, nodeBatchMs: 100, progressIntervalMs: 5000 },
    {
      nads: world.cache,
      rest: world.api,
      events: world.events,
      log,
      metrics,
      scheduler: world.scheduler,
    },
  );
  metrics.observe({
    queueDepth: () => controller.queueDepth,
    nadsByReady: () => controller.countByReady(),
    nodes: () => ({ eligible: 0, stale: 0 }),
  });

  world.onDelivered = (nad) => controller.nadChanged(nad);
  return {
    world,
    controller,
    metrics,
    report: (name, options, nads) => controller.nodeChanged(world.nodeState(name, options, nads)),
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

/** Waits for the workers to take every queued key and finish (the runner's idle signal). */
function settle(h: Harness): Promise<void> {
  return h.controller.runner.idle();
}

async function leading(h: Harness, test: () => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const running = h.controller.run(stop.signal);
  try {
    await test();
  } finally {
    stop.abort();
    await running;
    h.controller.dispose();
  }
}

describe('NadController', () => {
  it('reconciles every NAD, then only those in buckets a node report changed', async () => {
    const h = harness();
    for (let i = 0; i < 200; i++) h.world.create(`net-${i}`, bridge());
    h.report('node-a');
    h.world.scheduler.advance(100); // the report is flushed before the controller leads: nothing to queue yet
    await leading(h, async () => {
      await settle(h);
      expect(await reconciles(h.metrics)).toEqual({ written: 200 });
      h.world.sync(); // the watch delivers the controller's own writes: no requeue
      await settle(h);
      expect(await reconciles(h.metrics)).toEqual({ written: 200 });

      // A new NAD (Propagating until node-a holds it); node-a reports the changed bucket, and only that
      // bucket's NADs are looked at again.
      h.world.create('extra', bridge());
      await settle(h);
      expect(findCondition(h.world.status('extra'), 'Ready')?.reason).toBe('Propagating');
      h.report('node-a');
      h.world.scheduler.advance(100);
      await settle(h);
      const bucket = bucketOf('ns/extra');
      const inBucket = [...h.controller.networks.keysInBucket(bucket)].length;
      const counts = await reconciles(h.metrics);
      expect(counts.written).toBe(202);
      expect(counts.unchanged).toBe(inBucket - 1);
      expect(findCondition(h.world.status('extra'), 'Ready')?.status).toBe('True');
    });
  });

  it('requeues a failing reconcile with backoff', async () => {
    const h = harness();
    h.world.create('net', bridge());
    h.report('node-a');
    let failures = 2;
    h.world.api.intercept = () => {
      if (failures-- > 0) throw new KubeApiError(500, 'InternalError', 'etcd is unhappy');
    };
    await leading(h, async () => {
      await settle(h);
      expect(await reconciles(h.metrics)).toEqual({ error: 1 });
      h.world.scheduler.advance(100);
      await settle(h);
      h.world.scheduler.advance(200);
      await settle(h);
      expect(await reconciles(h.metrics)).toMatchObject({ error: 2, written: 1 });
      expect((await h.metrics.reconcileErrors.get()).values[0]?.value).toBe(2);
    });
  });

  it('comes back for a brand-new NAD when its grace period ends (the result says when)', async () => {
    const h = harness();
    h.report('node-a', {}, []);
    h.world.scheduler.advance(100); // the report is flushed before the controller leads
    await leading(h, async () => {
      h.world.create('net', bridge(), 'ns', h.world.scheduler.now());
      await settle(h);
      expect(await reconciles(h.metrics)).toEqual({ deferred: 1 });
      expect(h.world.patches()).toBe(0);
      h.world.scheduler.advance(2000);
      await settle(h);
      expect(await reconciles(h.metrics)).toEqual({ deferred: 1, written: 1 });
      expect(findCondition(h.world.status('net'), 'Ready')?.reason).toBe('Propagating');
    });
  });

  it('names a node whose heartbeat went stale when the stale timer fires', async () => {
    const h = harness();
    h.world.create('net', bridge());
    h.report('node-a');
    h.report('node-old');
    await leading(h, async () => {
      await settle(h);
      expect(findCondition(h.world.status('net'), 'Ready')?.message).toBe('usable on all 2 nodes');
      h.world.sync();
      h.world.scheduler.advance(staleAfterMs / 2);
      h.report('node-a'); // node-a keeps reporting, node-old does not
      h.world.scheduler.advance(staleAfterMs / 2 + 1); // the stale timer, then the node batch
      h.world.scheduler.advance(100);
      await settle(h);
      expect(h.controller.nodes.stale()).toEqual(['node-old']);
      expect(findCondition(h.world.status('net'), 'Ready')?.message).toBe(
        'usable on all 1 node; not counting node-old: no agent report for more than 3m',
      );
    });
  });

  it('stops writing as soon as its signal aborts, with a write in flight', async () => {
    const h = harness();
    h.world.create('net', bridge());
    h.report('node-a');
    let arrived!: () => void;
    const writing = new Promise<void>((resolve) => (arrived = resolve));
    h.world.api.intercept = (request) =>
      new Promise<void>((resolve) => {
        arrived();
        request.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    const stop = new AbortController();
    const running = h.controller.run(stop.signal);
    await writing;
    stop.abort();
    await running; // returns without waiting for the API
    expect(h.world.status('net')).toBeUndefined();
    expect(await reconciles(h.metrics)).toEqual({ aborted: 1 });
    expect(h.controller.leading).toBe(false);
    h.controller.dispose();
  });
});
