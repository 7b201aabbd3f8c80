/**
 * Every validator rule, from AdmissionReview fixtures stored as files (test/fixtures/admission/*.json):
 * each holds a review, the world it is validated against (NADs and NodeNetworkStates, as YAML files),
 * the pod policy, and the expected verdict, message and warnings. The verdict goes through
 * reviewResponse, so the fixtures also pin what the API server receives.
 */
import { readdirSync } from 'node:fs';
import { parseManifests } from '../lib/k8s/manifests.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import type { NodeNetworkState } from '../lib/node-state.ts';
import { fixturePath, readFixture } from '../test/fixtures.ts';
import { reviewResponse, type AdmissionReview } from './admission-review.ts';
import { NadCatalog } from './nad-catalog.ts';
import { validateClaim } from './claim.validator.ts';
import { validateNadReview } from './nad.validator.ts';
import { NodeStateIndex } from './node-report.ts';
import { defaultPodPolicy, validatePodReview, type PodPolicy } from './pod.validator.ts';
import { StaticNadSource } from '../test/doubles/static-nad-source.ts';
import type { Verdict } from './verdict.ts';

export interface AdmissionFixture {
  readonly description: string;
  /** World files (relative to test/fixtures/admission); default: the seed NAD plus world/base.yaml. */
  readonly world?: readonly string[];
  readonly policy?: Partial<PodPolicy>;
  /** A manifest file whose object replaces request.object (the seed's NAD and pods). */
  readonly objectFile?: string;
  readonly review: AdmissionReview;
  readonly expect: { allowed: boolean; message?: string; warnings?: string[]; code?: number };
}

const defaultWorld = ['../seed/macvlan-conf.nad.yaml', 'world/base.yaml'];
/** The fixtures' clock: NodeNetworkState heartbeats are relative to it. */
const now = Date.parse('2026-01-01T00:02:00Z'); // heartbeats of 00:00 are fresh (180 s), node-gone's are not

function objectsOf(file: string): Array<Record<string, unknown>> {
  // "../seed/x" names a seed manifest (examples/seed), anything else a file of test/fixtures/admission.
  const text = file.startsWith('../seed/')
    ? readFixture('seed', file.slice('../seed/'.length))
    : readFixture('admission', file);
  return parseManifests(text).map((d) => d.object as Record<string, unknown>);
}

export function loadFixture(name: string): AdmissionFixture {
  const fixture = JSON.parse(readFixture('admission', name)) as AdmissionFixture;
  if (!fixture.objectFile) return fixture;
  const [object] = objectsOf(fixture.objectFile);
  const metadata = { namespace: fixture.review.request.namespace, ...(object!.metadata as object) };
  return {
    ...fixture,
    review: { ...fixture.review, request: { ...fixture.review.request, object: { ...object, metadata } } },
  };
}

export function validateFixture(fixture: AdmissionFixture): Verdict {
  const nads = new StaticNadSource();
  const states: NodeNetworkState[] = [];
  for (const file of fixture.world ?? defaultWorld) {
    for (const object of objectsOf(file)) {
      if (object.kind === 'NodeNetworkState') states.push(object as unknown as NodeNetworkState);
      else {
        const nad = object as unknown as NadObject;
        nads.put({ ...nad, metadata: { namespace: 'default', ...nad.metadata } });
      }
    }
  }
  const catalog = new NadCatalog(nads);
  const nodes = new NodeStateIndex(() => states, { now: () => now });
  const request = fixture.review.request;
  if (request.resource.group === 'resource.k8s.io') return validateClaim(request);
  if (request.resource.resource === 'pods') {
    const policy = { ...defaultPodPolicy, ...fixture.policy };
    const { unresolved: _unresolved, ...verdict } = validatePodReview(request, {
      nads: catalog,
      nodes,
      policy,
    });
    return verdict;
  }
  return validateNadReview(request, { nads: catalog, nodes });
}

const files = readdirSync(fixturePath('admission'))
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the fixture directory holds NAD and pod fixtures', () => {
  expect(files.filter((f) => f.startsWith('nad-')).length).toBeGreaterThanOrEqual(10);
  expect(files.filter((f) => f.startsWith('pod-')).length).toBeGreaterThanOrEqual(20);
});

describe.each(files)('%s', (file) => {
  const fixture = loadFixture(file);
  test(fixture.description, () => {
    const verdict = validateFixture(fixture);
    const { response } = reviewResponse(fixture.review.request.uid, verdict);
    expect(response.uid).toBe(fixture.review.request.uid);
    expect({
      allowed: response.allowed,
      ...(response.status ? { message: response.status.message } : {}),
      warnings: response.warnings ?? [],
    }).toEqual({
      allowed: fixture.expect.allowed,
      ...(fixture.expect.message !== undefined ? { message: fixture.expect.message } : {}),
      warnings: fixture.expect.warnings ?? [],
    });
    if (!response.allowed) expect(response.status?.code).toBe(fixture.expect.code ?? 403);
  });
});
