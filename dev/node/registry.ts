/**
 * A read-only container registry on 127.0.0.1 for the local node: it serves the OCI image layouts that
 * dev/images/build.sh writes (the Distribution API's pull side: /v2/, manifests by tag or digest, blobs),
 * so the node's containerd pulls `docker.io/library/alpine:latest`, the pause image and multinet's own
 * image through a registry mirror (hosts.toml) as it would on a cluster — also for pods whose pull policy
 * is Always — and nothing ever leaves the machine.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';

/** One repository of the registry: its name (e.g. "library/alpine") and an OCI image layout dir. */
export interface RegistryRepository {
  readonly name: string;
  readonly layoutDir: string;
}

interface IndexEntry {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
}

const refNameAnnotation = 'org.opencontainers.image.ref.name';
const digestPattern = /^sha256:[a-f0-9]{64}$/;

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function sendBlob(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  digest: string,
  mediaType: string,
): Promise<void> {
  const info = await stat(file);
  res.writeHead(200, {
    'content-type': mediaType,
    'content-length': info.size,
    'docker-content-digest': digest,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}

export interface LocalRegistry {
  /** host:port, for hosts.toml and messages. */
  readonly address: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 and returns the port: the entry point's decision (platform/nodejs/listen.ts). */
export type ListenLoopback = (server: Server) => Promise<number>;

/** Starts the registry on a free 127.0.0.1 port. */
export async function startLocalRegistry(
  repositories: readonly RegistryRepository[],
  listen: ListenLoopback,
): Promise<LocalRegistry> {
  const layouts = new Map(repositories.map((r) => [r.name, r.layoutDir]));
  const indexes = new Map<string, IndexEntry[]>();
  for (const [name, dir] of layouts) {
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: IndexEntry[] };
    indexes.set(name, index.manifests ?? []);
  }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, 'UNSUPPORTED', 'this registry is read-only');
      return;
    }
    const path = new URL(req.url ?? '/', 'http://registry').pathname;
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, {
        'content-type': 'application/json',
        'docker-distribution-api-version': 'registry/2.0',
      });
      res.end('{}');
      return;
    }
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const layout = match ? layouts.get(match[1]!) : undefined;
    if (!match || layout === undefined) {
      sendError(res, 404, 'NAME_UNKNOWN', `no repository at ${path}`);
      return;
    }
    const [, name, kind, reference] = match as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const entries = indexes.get(name) ?? [];
      const entry = digestPattern.test(reference)
        ? entries.find((e) => e.digest === reference)
        : entries.find((e) => e.annotations?.[refNameAnnotation] === reference);
      if (!entry) {
        sendError(res, 404, 'MANIFEST_UNKNOWN', `${name}: no manifest ${reference}`);
        return;
      }
      await sendBlob(
        req,
        res,
        join(layout, 'blobs', 'sha256', entry.digest.slice(7)),
        entry.digest,
        entry.mediaType,
      );
      return;
    }
    if (!digestPattern.test(reference)) {
      sendError(res, 400, 'DIGEST_INVALID', `not a sha256 digest: ${reference}`);
      return;
    }
    const file = join(layout, 'blobs', 'sha256', reference.slice(7));
    try {
      await sendBlob(req, res, file, reference, 'application/octet-stream');
    } catch {
      sendError(res, 404, 'BLOB_UNKNOWN', `${name}: no blob ${reference}`);
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'UNKNOWN', err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  const port = await listen(server);
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
