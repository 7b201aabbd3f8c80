/** The NAD catalog's memo (per uid + resourceVersion) and the one direct read after a cache miss. */
import winston from 'winston';
import type { NadObject } from '../platform/kube/informers.ts';
import { NadCatalog } from './nad-catalog.ts';
import { NadMissResolver } from './nad-miss-resolver.ts';
import { ManualScheduler } from '../test/doubles/manual-scheduler.ts';
import { NodeStateIndex } from './node-report.ts';
import { defaultPodPolicy } from './pod.validator.ts';
import { StaticNadSource } from '../test/doubles/static-nad-source.ts';
import { podReviewer } from './webhook.ts';
import type { AdmissionRequest } from './admission-review.ts';

const log = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });

function nad(
  name: string,
  resourceVersion: string,
  config = '{"cniVersion":"1.0.0","type":"bridge"}',
): NadObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion },
    spec: { config },
  };
}

function podRequest(networks: string): AdmissionRequest {
  return {
    uid: 'u',
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'default',
    operation: 'CREATE',
    object: {
      metadata: { name: 'p', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': networks } },
    },
  };
}

test('evaluates a NAD once per uid and resourceVersion', () => {
  const source = new StaticNadSource([nad('a', '1')]);
  const catalog = new NadCatalog(source);
  expect(catalog.get('default', 'a')?.accepted).toBe(true);
  catalog.get('default', 'a');
  expect(catalog.evaluations).toBe(1);
  source.put(nad('a', '2', '{"cniVersion":"1.0.0","type":"../x"}'));
  expect(catalog.get('default', 'a')?.accepted).toBe(false);
  expect(catalog.evaluations).toBe(2);
  expect(catalog.get('default', 'missing')).toBeUndefined();
});

test('a pod naming a NAD the informer has not delivered yet is admitted after one direct read', async () => {
  const catalog = new NadCatalog(new StaticNadSource());
  const fetched: string[] = [];
  const apiServer = new Map([['default/late', nad('late', '7')]]);
  const clock = new ManualScheduler();
  const resolver = new NadMissResolver(
    catalog,
    (namespace, name) => {
      fetched.push(`${namespace}/${name}`);
      return Promise.resolve(apiServer.get(`${namespace}/${name}`));
    },
    log,
    { absentTtlMs: 5000, scheduler: clock },
  );
  const review = podReviewer(
    { nads: catalog, nodes: new NodeStateIndex(() => []), policy: defaultPodPolicy },
    resolver,
  );
  expect((await review(podRequest('late'))).allowed).toBe(true);
  expect((await review(podRequest('late'))).allowed).toBe(true); // now from the catalog's overlay
  expect(fetched).toEqual(['default/late']);

  // Missing for real: denied, and concurrent or repeated misses do not hit the API server again.
  const denials = await Promise.all([review(podRequest('gone')), review(podRequest('gone,late'))]);
  expect(denials.map((v) => v.message)).toEqual([
    'networks[0] "default/gone": NetworkAttachmentDefinition not found in namespace "default"',
    'networks[0] "default/gone": NetworkAttachmentDefinition not found in namespace "default"',
  ]);
  await review(podRequest('gone'));
  expect(fetched).toEqual(['default/late', 'default/gone']);
  clock.advance(6000);
  await review(podRequest('gone'));
  expect(fetched).toEqual(['default/late', 'default/gone', 'default/gone']);
});
