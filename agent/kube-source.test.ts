import { networkStatusAnnotation } from '../lib/annotations/keys.ts';
import { eventually } from '../dev/eventually.ts';
import type { Clock } from '../lib/ports.ts';
import type { KubeRequest } from '../platform/kube/rest.ts';
import { MemoryApi } from '../test/doubles/memory-api.ts';
import { MemoryFs } from '../test/doubles/memory-ports.ts';
import { silentLog } from '../test/test-agent.ts';
import { KubeSource, type KubeSourceDeps } from './kube-source.ts';
import { NadStore } from './nad-store.ts';

/** A clock whose sleeps end only when aborted: ADD always waits for the status write to finish. */
const patientClock: Clock = {
  now: () => 0,
  sleep: (_ms, signal) =>
    new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))),
};

function source(
  api: MemoryApi,
  writes: Array<[string, number]>,
  event?: KubeSourceDeps['event'],
): KubeSource {
  return new KubeSource({
    client: api,
    pods: { get: () => undefined, list: () => [] },
    networks: new NadStore(new MemoryFs(), '/state', silentLog),
    clock: patientClock,
    log: silentLog,
    observeWrite: (outcome, seconds) => writes.push([outcome, seconds]),
    ...(event ? { event } : {}),
  });
}

const path = '/api/v1/namespaces/default/pods/samplepod';

/** samplepod in the API, and its uid. */
function samplePod(api: MemoryApi): string {
  const pod = api.put(path, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'samplepod', namespace: 'default' },
  });
  return (pod.metadata as { uid: string }).uid;
}

const status = [{ name: 'podnet', interface: 'eth0', ips: ['192.0.2.5'], default: true }];

test('a network-status write is timed and reported as ok; a refused one as error', async () => {
  const api = new MemoryApi();
  const uid = samplePod(api);
  const writes: Array<[string, number]> = [];
  const kube = source(api, writes);

  await kube.publishStatus({ namespace: 'default', name: 'samplepod', uid }, status);
  const annotations = (api.get(path)!.metadata as { annotations: Record<string, string> }).annotations;
  expect(JSON.parse(annotations[networkStatusAnnotation]!)).toEqual(status);
  expect(writes.map(([outcome]) => outcome)).toEqual(['ok']);
  expect(writes[0]![1]).toBeGreaterThanOrEqual(0);

  // A pod that is gone: the write fails for good (no retry is scheduled) and is counted as an error.
  await kube.publishStatus({ namespace: 'default', name: 'gone', uid: 'u-gone' }, status);
  expect(writes.map(([outcome]) => outcome)).toEqual(['ok', 'error']);
  kube.stop();
});

test('the AddedInterface Events go out once the network-status patch and ADD are answered, never beside them', async () => {
  const order: string[] = [];
  class AnsweringApi extends MemoryApi {
    override async request<T = unknown>(request: KubeRequest): Promise<T> {
      const answer = await super.request<T>(request);
      order.push(`answered ${request.method}`);
      return answer;
    }
  }
  const api = new AnsweringApi();
  const uid = samplePod(api);
  const kube = source(api, [], (_pod, type, reason, message) => order.push(`${type} ${reason}: ${message}`));
  const two = [
    ...status,
    { name: 'default/macvlan-conf', interface: 'net1', ips: ['198.51.100.7'], default: false },
  ];

  await kube.publishStatus({ namespace: 'default', name: 'samplepod', uid }, two);
  // Not in the turn that answers ADD (the CNI answer is written in it), in a later one.
  await Promise.resolve();
  expect(order).toEqual(['answered PATCH']);
  await eventually('the Events to be posted', () => order.length === 3);
  expect(order).toEqual([
    'answered PATCH',
    'Normal AddedInterface: Add eth0 [192.0.2.5] from podnet',
    'Normal AddedInterface: Add net1 [198.51.100.7] from default/macvlan-conf',
  ]);
  kube.stop();
});
