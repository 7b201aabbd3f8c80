import winston from 'winston';
import { eventually } from '../../dev/eventually.ts';
import { FakeClock } from '../../test/doubles/memory-ports.ts';
import { MemoryCollection } from '../../test/doubles/memory-collection.ts';
import { ResilientInformer, type KubeObject } from './informer.ts';
import { KubeApiError } from './rest.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const path = '/api/v1/things';

interface Thing extends KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; managedFields?: unknown };
  spec?: { value?: number; bulky?: string };
}

function thing(name: string, value = 0): Thing {
  return {
    metadata: { name, namespace: 'ns', managedFields: [{ manager: 'x' }] },
    spec: { value, bulky: 'x'.repeat(100) },
  };
}

function setup(options: { pageSize?: number; transform?: (t: Thing) => Thing } = {}): {
  api: MemoryCollection;
  informer: ResilientInformer<Thing>;
  seen: string[];
} {
  const api = new MemoryCollection(path);
  const informer = new ResilientInformer<Thing>({
    client: api,
    path,
    log,
    clock: new FakeClock(),
    ...options,
  });
  const seen: string[] = [];
  for (const event of ['add', 'update', 'delete'] as const)
    informer.on(event, (t) => seen.push(`${event} ${t.metadata.name}=${t.spec?.value ?? '-'}`));
  return { api, informer, seen };
}

const names = (informer: ResilientInformer<Thing>): string[] =>
  informer
    .list()
    .map((t) => t.metadata.name)
    .sort();

let running: ResilientInformer<Thing> | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

test('lists in pages, then follows adds, updates and deletes from the list resourceVersion', async () => {
  const { api, informer, seen } = setup({ pageSize: 2 });
  running = informer;
  for (const n of ['a', 'b', 'c', 'd', 'e']) api.upsert(thing(n));
  await informer.start();
  expect(informer.synced).toBe(true);
  expect(names(informer)).toEqual(['a', 'b', 'c', 'd', 'e']);
  expect(api.log.filter((l) => l.startsWith('LIST'))).toHaveLength(3);
  expect(api.log.at(-1)).toBe(`WATCH rv=${api.resourceVersion}`);
  await eventually('the watch', () => api.activeWatches === 1);
  api.upsert(thing('f'));
  api.upsert(thing('a', 2));
  api.remove('ns', 'b');
  await eventually('three events', () => seen.length === 8);
  expect(seen.slice(5)).toEqual(['add f=0', 'update a=2', 'delete b=0']);
  expect(informer.get('a', 'ns')?.spec?.value).toBe(2);
  expect(informer.get('b', 'ns')).toBeUndefined();
  expect(informer.list('ns')).toHaveLength(5);
  expect(informer.list('other')).toHaveLength(0);
  expect(informer.latestResourceVersion()).toBe(api.resourceVersion);
});

test('caches what the transform returns, for listed and watched objects', async () => {
  const { api, informer } = setup({
    transform: (t) => ({
      metadata: {
        name: t.metadata.name,
        namespace: t.metadata.namespace,
        resourceVersion: t.metadata.resourceVersion,
      },
      spec: { value: t.spec?.value },
    }),
  });
  running = informer;
  api.upsert(thing('listed'));
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  api.upsert(thing('watched'));
  await eventually('the watched object', () => informer.get('watched', 'ns'));
  for (const t of informer.list()) {
    expect(t.metadata.managedFields).toBeUndefined();
    expect(t.spec?.bulky).toBeUndefined();
  }
});

test('a watch the server ends is resumed from the last resourceVersion, without a relist', async () => {
  const { api, informer, seen } = setup();
  running = informer;
  api.upsert(thing('a'));
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  api.upsert(thing('b'));
  api.bookmark();
  const rv = api.resourceVersion;
  api.endWatches();
  await eventually('a new watch', () => api.activeWatches === 1);
  api.upsert(thing('c'));
  await eventually('the add of c', () => seen.includes('add c=0'));
  expect(api.log.filter((l) => l.startsWith('LIST'))).toHaveLength(1);
  expect(api.log).toContain(`WATCH rv=${rv}`);
  expect(seen).toEqual(['add a=0', 'add b=0', 'add c=0']);
});

test('after errors it watches again with backoff and misses nothing that happened meanwhile', async () => {
  const { api, informer, seen } = setup();
  running = informer;
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  api.failWatches(3, () => new KubeApiError(0, 'Unreachable', 'connection refused'));
  api.breakWatches();
  api.upsert(thing('while-away'));
  await eventually('the add made while the watch was down', () => seen.includes('add while-away=0'));
  expect(informer.restarts).toBe(4);
  expect(informer.lists).toBe(1);
});

test('410 Gone (compacted history) lists again and reports what changed meanwhile', async () => {
  const { api, informer, seen } = setup({ pageSize: 1 });
  running = informer;
  api.upsert(thing('kept'));
  api.upsert(thing('changed'));
  api.upsert(thing('deleted'));
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  api.failWatches(1, () => new KubeApiError(0, 'Unreachable', 'connection reset'));
  api.breakWatches();
  api.upsert(thing('changed', 5));
  api.remove('ns', 'deleted');
  api.upsert(thing('new'));
  api.compact();
  await eventually('the relist', () => informer.lists === 2 && api.activeWatches === 1);
  expect(names(informer)).toEqual(['changed', 'kept', 'new']);
  expect(seen.slice(3).sort()).toEqual(['add new=0', 'delete deleted=0', 'update changed=5']);
});

test('an ERROR event with 410 inside the stream also lists again', async () => {
  const { api, informer } = setup();
  running = informer;
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  api.errorEvent(410, 'Expired');
  await eventually('the relist', () => informer.lists === 2);
});

test('stop ends the watch and a start that never synced', async () => {
  const { api, informer } = setup();
  api.failWatches(0, () => new Error('unused'));
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  await informer.stop();
  expect(api.activeWatches).toBe(0);

  const unreachable = new ResilientInformer<Thing>({
    client: {
      // Refused on a later turn of the event loop, as a real connection is.
      request: () =>
        new Promise((_, reject) => setImmediate(() => reject(new KubeApiError(0, 'Unreachable', 'refused')))),
      watch: api.watch.bind(api),
    },
    path,
    log,
    clock: new FakeClock(),
  });
  const started = unreachable.start();
  await eventually('a retry', () => unreachable.restarts > 2);
  await unreachable.stop();
  await started;
  expect(unreachable.synced).toBe(false);
});

test('a handler that throws does not stop the informer', async () => {
  const { api, informer, seen } = setup();
  running = informer;
  informer.on('add', () => {
    throw new Error('handler bug');
  });
  await informer.start();
  await eventually('the watch', () => api.activeWatches === 1);
  api.upsert(thing('x'));
  api.upsert(thing('y'));
  await eventually('both adds', () => seen.length === 2);
});
