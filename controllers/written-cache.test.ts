import type { NadObject } from '../platform/kube/informers.ts';
import { WrittenCache, type NadCache } from './written-cache.ts';

function nad(resourceVersion: string, ready: string): NadObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'a', namespace: 'default', resourceVersion },
    status: { conditions: [{ type: 'Ready', status: ready }] },
  };
}

/** An informer cache holding one NAD, replaced as the watch would. */
function informer(initial: NadObject): NadCache & { deliver(next: NadObject): void } {
  let current = initial;
  return {
    get: () => current,
    list: () => [current],
    deliver: (next) => void (current = next),
  };
}

const ready = (n: NadObject | undefined): unknown =>
  (n?.status as { conditions?: Array<{ status: string }> } | undefined)?.conditions?.[0]?.status;

describe("WrittenCache: the controller's own writes over a cache that lags", () => {
  it('shows an own write until the watch delivers it, and recognises that event as its echo', () => {
    const cache = informer(nad('1', 'Unknown'));
    let now = 0;
    const written = new WrittenCache(cache, () => now);
    written.wrote(nad('2', 'True'));
    expect([
      written.get('a', 'default')?.metadata.resourceVersion,
      ready(written.get('a', 'default')),
    ]).toEqual(['2', 'True']);
    expect(written.isEcho(nad('3', 'True'))).toBe(false); // someone else's write
    cache.deliver(nad('2', 'True'));
    expect(written.isEcho(nad('2', 'True'))).toBe(true);
    expect(written.isEcho(nad('2', 'True'))).toBe(false); // once
    now = 1;
    expect(ready(written.list()[0])).toBe('True');
  });

  it('trusts an overlay whose echo never comes for a minute, and none after a conflict', () => {
    const cache = informer(nad('1', 'Unknown'));
    let now = 0;
    const written = new WrittenCache(cache, () => now);
    written.wrote(nad('2', 'True'));
    now = 60_001;
    expect(ready(written.get('a', 'default'))).toBe('Unknown');
    written.wrote(nad('4', 'False'));
    written.drop('default/a');
    expect(ready(written.get('a', 'default'))).toBe('Unknown');
  });
});
