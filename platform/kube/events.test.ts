import winston from 'winston';
import { KubeEventRecorder, type ObjectReference } from './events.ts';
import { KubeApiError } from './rest.ts';
import { MemoryApi } from '../../test/doubles/memory-api.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const nad: ObjectReference = {
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  namespace: 'ns',
  name: 'macvlan-conf',
  uid: 'uid-1',
};

function events(api: MemoryApi): Array<Record<string, unknown>> {
  return [...api.objects.entries()].filter(([path]) => path.includes('/events/')).map(([, e]) => e);
}

describe('KubeEventRecorder', () => {
  it('writes a core/v1 Event about the object', async () => {
    const api = new MemoryApi();
    const recorder = new KubeEventRecorder({
      rest: api,
      component: 'multinet-controller',
      instance: 'pod-1',
      log,
    });
    recorder.event(nad, 'Warning', 'InvalidConfig', 'spec.config.ipam.subnet: is required');
    await recorder.flush(1000);
    const [event] = events(api);
    expect(event).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'ns', name: expect.stringMatching(/^macvlan-conf\.[0-9a-f]+$/) as unknown },
      involvedObject: nad,
      type: 'Warning',
      reason: 'InvalidConfig',
      message: 'spec.config.ipam.subnet: is required',
      source: { component: 'multinet-controller' },
      reportingComponent: 'multinet-controller',
      reportingInstance: 'pod-1',
      count: 1,
    });
    expect(recorder.stats).toEqual({ created: 1, aggregated: 0, dropped: 0, failed: 0 });
  });

  it('aggregates repeats: queued ones merge, later ones patch count and lastTimestamp', async () => {
    const api = new MemoryApi();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const recorder = new KubeEventRecorder({ rest: api, component: 'c', log, now: () => now });
    recorder.event(nad, 'Normal', 'Ready', 'usable on all 3 nodes');
    recorder.event(nad, 'Normal', 'Ready', 'usable on all 3 nodes');
    await recorder.flush(1000);
    expect(events(api).map((e) => e.count)).toEqual([2]);
    now += 60_000;
    recorder.event(nad, 'Normal', 'Ready', 'usable on all 3 nodes');
    await recorder.flush(1000);
    expect(events(api)).toEqual([
      expect.objectContaining({
        count: 3,
        lastTimestamp: '2026-01-01T00:01:00Z',
        firstTimestamp: '2026-01-01T00:00:00Z',
      }),
    ]);
    // Another message is another Event; cluster-scoped objects' Events go to "default".
    recorder.event(
      { ...nad, namespace: undefined, kind: 'NodeNetworkState', name: 'node-a', uid: 'u2' },
      'Normal',
      'X',
      'y',
    );
    await recorder.flush(1000);
    expect(events(api).map((e) => (e.metadata as { namespace: string }).namespace)).toEqual([
      'ns',
      'default',
    ]);
  });

  it('writes a new Event when the one it would patch expired', async () => {
    const api = new MemoryApi();
    const recorder = new KubeEventRecorder({ rest: api, component: 'c', log });
    recorder.event(nad, 'Normal', 'Ready', 'ok');
    await recorder.flush(1000);
    api.objects.clear();
    recorder.event(nad, 'Normal', 'Ready', 'ok');
    await recorder.flush(1000);
    expect(events(api).map((e) => e.count)).toEqual([1]);
    expect(recorder.stats.created).toBe(2);
  });

  it('drops what one object sends beyond its burst', async () => {
    const api = new MemoryApi();
    const recorder = new KubeEventRecorder({ rest: api, component: 'c', log, perObjectBurst: 3, qps: 1000 });
    for (let i = 0; i < 10; i++) recorder.event(nad, 'Warning', 'Flapping', `change ${i}`);
    recorder.event({ ...nad, name: 'other', uid: 'uid-2' }, 'Warning', 'Flapping', 'change');
    await recorder.flush(1000);
    expect(events(api)).toHaveLength(4);
    expect(recorder.stats.dropped).toBe(7);
  });

  it('never throws into the caller, and counts failed writes', async () => {
    const api = new MemoryApi();
    api.intercept = () => {
      throw new KubeApiError(403, 'Forbidden', 'events is forbidden');
    };
    const recorder = new KubeEventRecorder({ rest: api, component: 'c', log });
    expect(() => recorder.event(nad, 'Normal', 'Ready', 'ok')).not.toThrow();
    const hostile = {
      get name(): string {
        throw new Error('boom');
      },
    } as unknown as ObjectReference;
    expect(() => recorder.event(hostile, 'Normal', 'Ready', 'ok')).not.toThrow();
    await recorder.flush(1000);
    expect(recorder.stats.failed).toBe(1);
  });

  it('bounds the queue, rate-limits writes and truncates long messages', async () => {
    const api = new MemoryApi();
    const recorder = new KubeEventRecorder({
      rest: api,
      component: 'c',
      log,
      qps: 20,
      burst: 2,
      maxPending: 5,
    });
    const started = Date.now();
    for (let i = 0; i < 8; i++)
      recorder.event({ ...nad, name: `n${i}`, uid: `u${i}` }, 'Normal', 'R', 'x'.repeat(2000));
    expect(recorder.stats.dropped).toBe(2); // one is being written, five wait
    await recorder.flush(5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190); // 6 writes, 2 at once, then 20 a second
    expect(events(api)).toHaveLength(6);
    expect(Buffer.byteLength(events(api)[0]!.message as string)).toBeLessThanOrEqual(1024);
    await recorder.stop(100);
    recorder.event(nad, 'Normal', 'After', 'stop');
    expect(events(api)).toHaveLength(6);
  });
});
