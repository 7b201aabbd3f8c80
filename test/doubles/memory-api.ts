/**
 * An in-memory stand-in for the Kubernetes API behind the KubeRequester port, for unit tests (not used
 * by the product): objects by path, resourceVersions with optimistic concurrency (409 Conflict on a
 * stale resourceVersion), generation bumped by spec changes only, the status subresource, JSON merge
 * patches, lists of a collection (GET of a path that holds no object: the objects below it, filtered
 * by a fieldSelector of `a.b=value` terms), and a hook to fail or delay requests.
 */
import {
  KubeApiError,
  contentTypes,
  type KubeRequest,
  type KubeRequester,
} from '../../platform/kube/rest.ts';

type Json = Record<string, unknown>;

function isPlain(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlain(patch)) return structuredClone(patch);
  const result: Json = isPlain(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

export class MemoryApi implements KubeRequester {
  readonly objects = new Map<string, Json>();
  readonly log: string[] = [];
  private version = 100;
  private uid = 0;
  /** Runs before each request; may throw to fail it (or wait to delay it). */
  intercept: ((request: KubeRequest) => void | Promise<void>) | undefined;

  private meta(object: Json): Json {
    return (object.metadata ??= {}) as Json;
  }

  /** Stores an object at its item path (e.g. /apis/g/v/namespaces/ns/things/name) as if created. */
  put(path: string, object: Json): Json {
    const stored = structuredClone(object);
    const meta = this.meta(stored);
    meta.resourceVersion = String(++this.version);
    meta.uid ??= `uid-${++this.uid}`;
    meta.generation ??= 1;
    this.objects.set(path, stored);
    return structuredClone(stored);
  }

  get(path: string): Json | undefined {
    const object = this.objects.get(path);
    return object ? structuredClone(object) : undefined;
  }

  /** The objects directly below a collection path matching the field selector; undefined when none is there. */
  private list(path: string, fieldSelector: string | undefined): Json[] | undefined {
    const below = [...this.objects].filter(
      ([p]) => p.startsWith(`${path}/`) && !p.slice(path.length + 1).includes('/'),
    );
    if (below.length === 0 && fieldSelector === undefined) return undefined;
    const terms = (fieldSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('='));
    const field = (object: unknown, dotted: string): unknown =>
      dotted.split('.').reduce<unknown>((at, key) => (isPlain(at) ? at[key] : undefined), object);
    return below
      .map(([, object]) => object)
      .filter((object) => terms.every(([key, value]) => String(field(object, key!)) === value))
      .map((object) => structuredClone(object));
  }

  async request<T = unknown>(request: KubeRequest): Promise<T> {
    this.log.push(`${request.method} ${request.path}`);
    await this.intercept?.(request);
    request.signal?.throwIfAborted(); // a cancelled request changes nothing
    const subresource = request.path.endsWith('/status');
    const path = subresource ? request.path.slice(0, -'/status'.length) : request.path;
    const current = this.objects.get(path);
    const notFound = (): KubeApiError => new KubeApiError(404, 'NotFound', `${path} not found`);
    switch (request.method) {
      case 'GET':
        if (!current) {
          const items = this.list(path, request.query?.fieldSelector);
          if (items) return { metadata: { resourceVersion: String(this.version) }, items } as T;
          throw notFound();
        }
        return structuredClone(current) as T;
      case 'DELETE':
        if (!current) throw notFound();
        this.objects.delete(path);
        return {} as T;
      case 'POST': {
        const body = request.body as Json;
        const itemPath = `${request.path}/${String(this.meta(body).name)}`;
        if (this.objects.has(itemPath))
          throw new KubeApiError(409, 'AlreadyExists', `${itemPath} already exists`);
        return this.put(itemPath, body) as T;
      }
      case 'PUT':
      case 'PATCH': {
        if (!current) throw notFound();
        const body = request.body as Json;
        const wantedVersion = isPlain(body.metadata) ? body.metadata.resourceVersion : undefined;
        if (wantedVersion !== undefined && wantedVersion !== this.meta(current).resourceVersion)
          throw new KubeApiError(409, 'Conflict', `${path}: the object has been modified`);
        if (request.method === 'PATCH' && request.contentType !== contentTypes.mergePatch)
          throw new KubeApiError(415, 'UnsupportedMediaType', 'only merge patches are supported');
        const merged = (request.method === 'PUT' ? structuredClone(body) : mergePatch(current, body)) as Json;
        const next: Json = subresource
          ? { ...structuredClone(current), status: merged.status }
          : { ...merged, status: current.status };
        // The server's fields of metadata stay; labels and annotations are what the write says (not via status).
        const { labels, annotations, ...owned } = current.metadata as Json;
        const meta: Json = subresource ? { ...owned, labels, annotations } : owned;
        for (const key of Object.keys(meta)) if (meta[key] === undefined) delete meta[key];
        if (JSON.stringify(next.spec) !== JSON.stringify(current.spec))
          meta.generation = Number(meta.generation ?? 1) + 1;
        meta.resourceVersion = String(++this.version);
        next.metadata = { ...(isPlain(next.metadata) ? next.metadata : {}), ...meta };
        this.objects.set(path, next);
        return structuredClone(next) as T;
      }
    }
  }
}
