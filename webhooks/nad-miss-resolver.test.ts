/** The cache-miss read inside an admission call is bounded by the review's signal (the API server's timeout). */
import { eventually } from '../dev/eventually.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { NadCatalog } from './nad-catalog.ts';
import { NadMissResolver } from './nad-miss-resolver.ts';
import { reviewTimeoutMs } from './review-adapter.ts';
import { ManualScheduler } from '../test/doubles/manual-scheduler.ts';
import { StaticNadSource } from '../test/doubles/static-nad-source.ts';
import { silentLog as log } from '../test/doubles/nad-world.ts';

const late: NadObject = {
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name: 'late', namespace: 'default', uid: 'uid-late', resourceVersion: '1' },
  spec: { config: '{"cniVersion":"1.0.0","type":"bridge"}' },
};

test('a NAD read that outlives the review is given up on, and its answer serves the next review', async () => {
  const catalog = new NadCatalog(new StaticNadSource());
  let answer!: (nad: NadObject) => void;
  const resolver = new NadMissResolver(catalog, () => new Promise((resolve) => (answer = resolve)), log);
  const review = new AbortController();
  const resolving = resolver.resolve([{ namespace: 'default', name: 'late' }], review.signal);
  review.abort(new Error('the API server stopped waiting'));
  await expect(resolving).resolves.toBe(false); // answered now, without the API server's reply
  answer(late);
  // The late answer still fills the catalog for the next review.
  expect(
    await eventually('the late answer in the catalog', () => catalog.get('default', 'late')?.accepted),
  ).toBe(true);
});

test('a NAD read that hangs is abandoned after its own timeout, so the next miss of that NAD reads again', async () => {
  const catalog = new NadCatalog(new StaticNadSource());
  const clock = new ManualScheduler();
  const reads: AbortSignal[] = [];
  const hanging = (_namespace: string, _name: string, signal: AbortSignal): Promise<undefined> => {
    reads.push(signal);
    return new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => reject(signal.reason as Error)),
    );
  };
  const resolver = new NadMissResolver(catalog, hanging, log, { readTimeoutMs: 10_000, scheduler: clock });
  const ref = [{ namespace: 'default', name: 'late' }];
  const first = resolver.resolve(ref);
  void resolver.resolve(ref); // shares the read in flight
  expect(reads).toHaveLength(1);
  clock.advance(9_999);
  expect(reads[0]!.aborted).toBe(false);
  clock.advance(1);
  expect(reads[0]!.aborted).toBe(true); // the API server's GET is cancelled, not left running
  await expect(first).resolves.toBe(false);
  void resolver.resolve(ref);
  expect(reads).toHaveLength(2); // a fresh read, not the abandoned one
  expect(clock.pending).toBe(1); // only the new read's timer
});

test("a review's timeout is the API server's ?timeout=", () => {
  expect(reviewTimeoutMs('/validate/pods?timeout=10s')).toBe(10_000);
  expect(reviewTimeoutMs('/validate/pods?x=1&timeout=500ms')).toBe(500);
  expect(reviewTimeoutMs('/validate/pods?timeout=1m')).toBe(30_000); // the API server allows 30 s at most
  expect(reviewTimeoutMs('/validate/pods')).toBe(10_000);
});
