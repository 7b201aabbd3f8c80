/**
 * The least a CNI daemon in Node.js does, written with Node's built-ins only: the measuring stick that
 * bench:agent and bench:cni run beside multinet's agent and Multus', so that what Node itself costs (its
 * memory, a plugin spawned by a Node process) is measured, not argued.
 *
 * It is not multinet and must not grow into it: no validation, no attachment cache, no logs, no metrics,
 * no retries, no rollback. What it does is what any daemon doing this job must do:
 * - lists and watches the NADs of every namespace and the pods of its node (metadata only, as the agent),
 *   over keep-alive TLS with a bearer token;
 * - serves the agent's protocol (POST /cni with a CniRequest, lib/cni/request.ts) on a unix socket, so the
 *   Go shim and bench:agent drive it as they drive the agent;
 * - ADD: the default network's plugin for the runtime's interface, then each network of the pod's
 *   annotation (names, or namespace/name, comma separated) as net1, net2, ..., each plugin spawned as the
 *   agent spawns it (stdio piped, its own process group); then the network-status patch, before answering;
 * - DEL: the same plugins in reverse order, each with its ADD's result as prevResult (kept in memory);
 * - GET /counts: how many NADs and pods it holds (the benchmarks wait on it).
 *
 * bench/skeleton.ts runs it from its type-stripped JavaScript (so that Node's type stripping is not in the
 * measure), with SKELETON_CONFIG = a SkeletonConfig as JSON. It says "ready" on stdout once both lists are in.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { CniRequest } from '../lib/cni/request.ts';

export interface SkeletonConfig {
  readonly server: string;
  readonly caPem: string;
  readonly token: string;
  readonly nodeName: string;
  readonly socket: string;
  /** The default network: one plugin's configuration with name and cniVersion. */
  readonly defaultNetwork: Record<string, unknown>;
}

interface Delegate {
  readonly name: string;
  readonly ifName: string;
  readonly config: Record<string, unknown>;
}

interface PluginResult {
  interfaces?: Array<{ name?: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ address: string; interface?: number }>;
}

if (!process.env.SKELETON_CONFIG)
  throw new Error('SKELETON_CONFIG is not set: bench/skeleton.ts starts this daemon');
const config = JSON.parse(process.env.SKELETON_CONFIG) as SkeletonConfig;
const agent = new Agent({ keepAlive: true, ca: config.caPem, maxSockets: 8 });
const metadataOnly = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const metadataListOnly = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const nads = new Map<string, string>();
/** What each ADD printed, by container and interface: DEL hands it back as prevResult, as libcni does. */
const results = new Map<string, PluginResult>();
/** The networks annotation of each pod on the node. */
const pods = new Map<string, string>();

function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${config.server}${path}`,
      { method, agent, headers: { authorization: `Bearer ${config.token}`, ...headers } },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function readJson<T>(res: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if ((res.statusCode ?? 0) >= 300) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface ObjectMeta {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    annotations?: Record<string, string>;
  };
  spec?: { config?: string };
}

/** Keeps `store` (by namespace/name) as the API server has it: list, then watch from the list's version;
 * a watch that ends or fails is resumed, one that is too old (410) lists again. */
async function informer<T>(
  path: string,
  accept: { list: string; watch: string },
  store: Map<string, T>,
  value: (object: ObjectMeta) => T,
): Promise<void> {
  const id = (object: ObjectMeta): string => key(object.metadata.namespace, object.metadata.name);
  const separator = path.includes('?') ? '&' : '?';
  const list = async (): Promise<string> => {
    const body = await readJson<{ metadata: { resourceVersion: string }; items?: ObjectMeta[] | null }>(
      await call('GET', path, { accept: accept.list }),
    );
    store.clear();
    for (const item of body.items ?? []) store.set(id(item), value(item));
    return body.metadata.resourceVersion;
  };
  const watch = async (version: string): Promise<void> => {
    let resume = version;
    try {
      const res = await call(
        'GET',
        `${path}${separator}watch=1&allowWatchBookmarks=true&resourceVersion=${resume}`,
        { accept: accept.watch },
      );
      let buffered = '';
      res.setEncoding('utf8');
      for await (const chunk of res) {
        buffered += chunk as string;
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          const event = JSON.parse(buffered.slice(0, end)) as {
            type: string;
            object: ObjectMeta & { code?: number };
          };
          buffered = buffered.slice(end + 1);
          if (event.type === 'ERROR') {
            if (event.object.code === 410) resume = await list();
            continue;
          }
          resume = event.object.metadata.resourceVersion;
          if (event.type === 'DELETED') store.delete(id(event.object));
          else if (event.type !== 'BOOKMARK') store.set(id(event.object), value(event.object));
        }
      }
    } catch {
      // the connection failed: resumed below, as when the API server ends a watch
    }
    setTimeout(() => void watch(resume), 100);
  };
  void watch(await list());
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Where an ADD's result waits for its DEL: by container and interface. */
function resultKey(request: CniRequest, delegate: Delegate): string {
  return `${request.containerId}/${delegate.ifName}`;
}

function podArgs(args: string): { namespace: string; name: string } {
  const pairs = new Map(args.split(';').map((pair) => pair.split('=') as [string, string]));
  return { namespace: pairs.get('K8S_POD_NAMESPACE') ?? '', name: pairs.get('K8S_POD_NAME') ?? '' };
}

function delegates(request: CniRequest): Delegate[] {
  const pod = podArgs(request.args);
  const networks = (pods.get(key(pod.namespace, pod.name)) ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const main: Delegate = {
    name: String(config.defaultNetwork.name),
    ifName: request.ifName,
    config: config.defaultNetwork,
  };
  return [
    main,
    ...networks.map((selection, i): Delegate => {
      const [namespace, name] = selection.includes('/') ? selection.split('/') : [pod.namespace, selection];
      const text = nads.get(key(namespace!, name!));
      if (text === undefined) throw new Error(`no NetworkAttachmentDefinition ${namespace}/${name}`);
      const nad = JSON.parse(text) as Record<string, unknown>;
      return { name: key(namespace!, name!), ifName: `net${i + 1}`, config: { name, ...nad } };
    }),
  ];
}

function runPlugin(
  command: string,
  request: CniRequest,
  delegate: Delegate,
  prevResult?: PluginResult,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const dir = request.path.split(':')[0]!;
    const child = spawn(join(dir, String(delegate.config.type)), [], {
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: request.containerId,
        CNI_NETNS: request.netns,
        CNI_IFNAME: delegate.ifName,
        CNI_ARGS: request.args,
        CNI_PATH: request.path,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve(text);
      else reject(new Error(`${String(delegate.config.type)} ${command} exited ${code}: ${text}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(prevResult ? { ...delegate.config, prevResult } : delegate.config));
  });
}

function networkStatus(delegate: Delegate, result: PluginResult, isDefault: boolean): object {
  const sandboxed = (result.interfaces ?? []).findIndex((i) => i.sandbox);
  return {
    name: delegate.name,
    interface: delegate.ifName,
    ips: (result.ips ?? []).map((ip) => ip.address.split('/')[0]),
    mac: result.interfaces?.[sandboxed]?.mac,
    default: isDefault,
  };
}

async function add(request: CniRequest): Promise<object> {
  const list = delegates(request);
  const added: PluginResult[] = [];
  for (const delegate of list) {
    const result = JSON.parse(await runPlugin('ADD', request, delegate)) as PluginResult;
    added.push(result);
    results.set(resultKey(request, delegate), result);
  }
  const pod = podArgs(request.args);
  const status = list.map((delegate, i) => networkStatus(delegate, added[i]!, i === 0));
  const patch = {
    metadata: { annotations: { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify(status) } },
  };
  await readJson(
    await call(
      'PATCH',
      `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}?fieldManager=multinet-skeleton`,
      { 'content-type': 'application/merge-patch+json', accept: metadataOnly },
      JSON.stringify(patch),
    ),
  );
  return added[0]!;
}

async function del(request: CniRequest): Promise<null> {
  for (const delegate of delegates(request).reverse()) {
    await runPlugin('DEL', request, delegate, results.get(resultKey(request, delegate)));
    results.delete(resultKey(request, delegate));
  }
  return null;
}

function answer(res: ServerResponse, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    answer(res, { nads: nads.size, pods: pods.size });
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let cniVersion = '1.0.0';
    Promise.resolve()
      .then(() => {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CniRequest;
        const version = request.config.cniVersion;
        if (typeof version === 'string') cniVersion = version;
        if (request.command === 'ADD') return add(request);
        return request.command === 'DEL' ? del(request) : null;
      })
      .then(
        (result) => answer(res, { result }),
        (err: unknown) => answer(res, { error: { cniVersion, code: 999, msg: String(err) } }),
      );
  });
});

await Promise.all([
  informer(
    '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions',
    { list: 'application/json', watch: 'application/json' },
    nads,
    (nad) => nad.spec?.config ?? '{}',
  ),
  informer(
    `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${config.nodeName}`)}`,
    { list: metadataListOnly, watch: metadataOnly },
    pods,
    (pod) => pod.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '',
  ),
]);
server.listen(config.socket, () => process.stdout.write('ready\n'));
