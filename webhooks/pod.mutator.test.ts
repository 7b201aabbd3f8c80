/**
 * The resource injector: the patch it answers, applied to the pod as the API server applies it
 * (RFC 6902 "add"), and the patched pod then admitted by the validator.
 */
import type { NadObject } from '../platform/kube/informers.ts';
import { StaticNadSource } from '../test/doubles/static-nad-source.ts';
import { reviewResponse, type AdmissionRequest } from './admission-review.ts';
import { NadCatalog } from './nad-catalog.ts';
import { NodeStateIndex } from './node-report.ts';
import { mutatePodReview, type PodMutationContext } from './pod.mutator.ts';
import { defaultPodPolicy, validatePodReview } from './pod.validator.ts';
import type { JsonPatchOperation } from './verdict.ts';

const vf = 'multinet.dev/vf';

function nad(name: string, resourceName?: string): NadObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: {
      name,
      namespace: 'default',
      ...(resourceName ? { annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } } : {}),
    },
    spec: { config: '{"cniVersion":"1.0.0","type":"host-device","ipam":{"type":"static"}}' },
  };
}

function world(): NadCatalog {
  const source = new StaticNadSource();
  source.put(nad('vf-net', vf));
  source.put(nad('gpu-net', 'example.com/gpu'));
  source.put(nad('plain'));
  return new NadCatalog(source);
}

function context(downwardApi = false): PodMutationContext {
  return { nads: world(), policy: defaultPodPolicy, downwardApi };
}

function podRequest(
  networks: string,
  spec: Record<string, unknown> = { containers: [{ name: 'app', image: 'alpine' }] },
  labels?: Record<string, string>,
  operation: AdmissionRequest['operation'] = 'CREATE',
): AdmissionRequest {
  return {
    uid: 'u',
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'default',
    operation,
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'default',
        annotations: { 'k8s.v1.cni.cncf.io/networks': networks },
        ...(labels ? { labels } : {}),
      },
      spec,
    },
  };
}

/** Applies "add" operations as the API server does (RFC 6902; "-" appends). */
function applyPatch(document: unknown, patch: readonly JsonPatchOperation[]): unknown {
  const out = structuredClone(document) as Record<string, unknown>;
  for (const { path, value } of patch) {
    const parts = path
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop()!;
    let parent: unknown = out;
    for (const part of parts) {
      const next = (parent as Record<string, unknown>)[part];
      if (next === undefined) throw new Error(`patch path ${path}: ${part} does not exist`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(structuredClone(value));
      else parent.splice(Number(last), 0, structuredClone(value));
    } else (parent as Record<string, unknown>)[last] = structuredClone(value);
  }
  return out;
}

describe('the resource injector', () => {
  it("adds one device per device network to the first container's requests and limits", () => {
    const request = podRequest('vf-net,plain,vf-net,gpu-net', {
      containers: [
        { name: 'app', image: 'alpine', resources: { requests: { cpu: '100m' } } },
        { name: 'side', image: 'alpine' },
      ],
    });
    const verdict = mutatePodReview(request, context());
    expect(verdict.allowed).toBe(true);
    expect(verdict.patch).toEqual([
      { op: 'add', path: '/spec/containers/0/resources/limits', value: {} },
      { op: 'add', path: '/spec/containers/0/resources/requests/multinet.dev~1vf', value: '2' },
      { op: 'add', path: '/spec/containers/0/resources/limits/multinet.dev~1vf', value: '2' },
      { op: 'add', path: '/spec/containers/0/resources/requests/example.com~1gpu', value: '1' },
      { op: 'add', path: '/spec/containers/0/resources/limits/example.com~1gpu', value: '1' },
    ]);
    expect(verdict.warnings).toEqual([
      'multinet added "multinet.dev/vf": 2, "example.com/gpu": 1 to the requests and limits of container "app" for the pod\'s device networks',
    ]);
    const patched = applyPatch(request.object, verdict.patch!) as { spec: { containers: unknown[] } };
    expect(patched.spec.containers[0]).toEqual({
      name: 'app',
      image: 'alpine',
      resources: {
        requests: { cpu: '100m', [vf]: '2', 'example.com/gpu': '1' },
        limits: { [vf]: '2', 'example.com/gpu': '1' },
      },
    });
    // The validating webhook, called after, admits what the injector made; without it, it denies.
    const validation = { nads: world(), nodes: new NodeStateIndex(() => []), policy: defaultPodPolicy };
    expect(validatePodReview({ ...request, object: patched }, validation).allowed).toBe(true);
    expect(validatePodReview(request, validation).allowed).toBe(false);
  });

  it('leaves a resource some container already asks for as the user wrote it', () => {
    const verdict = mutatePodReview(
      podRequest('vf-net,vf-net', {
        containers: [
          { name: 'app', image: 'alpine' },
          { name: 'side', image: 'alpine', resources: { limits: { [vf]: '1' } } },
        ],
      }),
      context(),
    );
    expect(verdict.patch).toBeUndefined();
    expect(verdict.warnings).toEqual([]);
  });

  it('creates the resources object when the container has none', () => {
    const request = podRequest('vf-net');
    const verdict = mutatePodReview(request, context());
    const patched = applyPatch(request.object, verdict.patch!) as { spec: { containers: unknown[] } };
    expect(patched.spec.containers[0]).toMatchObject({
      resources: { requests: { [vf]: '1' }, limits: { [vf]: '1' } },
    });
  });

  it('mounts the pod labels and annotations at /etc/podnetinfo in every container, when asked', () => {
    const request = podRequest(
      'vf-net',
      {
        containers: [
          { name: 'app', image: 'alpine', volumeMounts: [{ name: 'data', mountPath: '/data' }] },
          { name: 'side', image: 'alpine' },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
      { app: 'x' },
    );
    const verdict = mutatePodReview(request, context(true));
    const patched = applyPatch(request.object, verdict.patch!) as {
      spec: { volumes: unknown[]; containers: Array<{ volumeMounts: unknown[] }> };
    };
    expect(patched.spec.volumes).toEqual([
      { name: 'data', emptyDir: {} },
      {
        name: 'podnetinfo',
        downwardAPI: {
          items: [
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
          ],
        },
      },
    ]);
    const mount = { name: 'podnetinfo', mountPath: '/etc/podnetinfo', readOnly: true };
    expect(patched.spec.containers.map((c) => c.volumeMounts)).toEqual([
      [{ name: 'data', mountPath: '/data' }, mount],
      [mount],
    ]);
    // Not for a pod without device networks, and not twice.
    expect(mutatePodReview(podRequest('plain'), context(true)).patch).toBeUndefined();
    const again = mutatePodReview({ ...request, object: patched }, context(true));
    expect(again.patch?.some((op) => op.path.includes('volume'))).toBeFalsy();
  });

  it('leaves what is wrong to the validating webhook, and names NADs it does not know yet', () => {
    expect(mutatePodReview(podRequest('vf-net@not a name'), context())).toEqual({
      allowed: true,
      warnings: [],
    });
    const missing = mutatePodReview(podRequest('vf-net,nope'), context());
    expect(missing.unresolved).toEqual([{ namespace: 'default', name: 'nope' }]);
    expect(missing.patch).toHaveLength(5);
    expect(
      mutatePodReview(podRequest('vf-net', undefined, undefined, 'UPDATE'), context()).patch,
    ).toBeUndefined();
  });

  it('answers the patch as a base64 JSONPatch in the AdmissionReview', () => {
    const verdict = mutatePodReview(podRequest('vf-net'), context());
    const response = reviewResponse('u', verdict).response;
    expect(response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(response.patch!, 'base64').toString('utf8'))).toEqual(verdict.patch);
    expect(reviewResponse('u', { allowed: true, warnings: [] }).response).not.toHaveProperty('patch');
  });
});
