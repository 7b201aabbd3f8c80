/**
 * Where the API server is and how to authenticate, for every component, without @kubernetes/client-node
 * (loading it costs about 50 MB and a second; a node agent must not pay that). Two sources:
 *
 * - the in-cluster ServiceAccount: `KUBERNETES_SERVICE_HOST`/`_PORT`, the projected token file and
 *   `ca.crt` under /var/run/secrets/kubernetes.io/serviceaccount; the token file is re-read as it
 *   rotates (bound tokens expire after an hour; Multus' thin plugin broke on a copied token);
 * - a kubeconfig file (or a `:`-separated list, merged as kubectl does: the first file to name a
 *   cluster, user or context wins): its current context's cluster (`server`,
 *   `certificate-authority(-data)`, `insecure-skip-tls-verify`, `tls-server-name`) and user (`token`,
 *   `tokenFile`, `client-certificate(-data)` + `client-key(-data)`, `username` + `password`).
 *   Relative file paths are relative to the kubeconfig's directory. Exec and auth-provider plugins
 *   are refused with an error naming the field.
 *
 * Files named by the configuration (token, certificates) are read again by `readCredentials`, so the
 * client picks up rotated material; inline data is used as is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KubeConfig as ClientNodeKubeConfig } from '@kubernetes/client-node';
import type * as JsYaml from 'js-yaml';

/** The in-cluster ServiceAccount's files (as the kubelet projects them). */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Inline material or a file that is read again whenever credentials are refreshed. */
export type Material = { readonly data: string } | { readonly file: string };

export interface ClusterConfig {
  /** The API server's base URL, e.g. https://10.96.0.1:443. */
  readonly server: string;
  /** PEM of the CA(s) to trust; the system's CAs when undefined. */
  readonly ca?: Material | undefined;
  readonly insecureSkipTlsVerify?: boolean | undefined;
  readonly tlsServerName?: string | undefined;
  readonly token?: Material | undefined;
  readonly clientCertificate?: Material | undefined;
  readonly clientKey?: Material | undefined;
  readonly basicAuth?: { readonly username: string; readonly password: string } | undefined;
  /** The context's namespace, or the ServiceAccount's. */
  readonly namespace?: string | undefined;
  /** Where this came from, for messages: "kubeconfig /path (context ctx)" or "the in-cluster ServiceAccount". */
  readonly origin: string;
}

/** What a component is given: a loaded configuration, or a client-node KubeConfig (tests, the dev cluster). */
export type KubeAccess = ClusterConfig | Pick<ClientNodeKubeConfig, 'exportConfig'>;

/** A kubeconfig or in-cluster setting that cannot be used; the message names the field. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

export interface KubeConfigSource {
  /** Path of a kubeconfig file (or several joined by ":"); in-cluster configuration when undefined. */
  readonly kubeconfig?: string | undefined;
  /** The environment (the entry point passes process.env): KUBERNETES_SERVICE_HOST/_PORT in-cluster. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Where the ServiceAccount's token, ca.crt and namespace are (tests point it elsewhere). */
  readonly serviceAccountDir?: string | undefined;
}

export function loadKubeConfig(source: KubeConfigSource): ClusterConfig {
  if (source.kubeconfig) return loadKubeconfigFiles(source.kubeconfig.split(':').filter(Boolean));
  return inClusterConfig(source.env ?? {}, source.serviceAccountDir ?? serviceAccountDir);
}

/** The configuration a component was handed, loaded. */
export function clusterConfigOf(access: KubeAccess): ClusterConfig {
  if ('exportConfig' in access) return parseKubeconfig(access.exportConfig(), 'a client-node KubeConfig');
  return access;
}

export function inClusterConfig(
  env: Readonly<Record<string, string | undefined>>,
  dir: string = serviceAccountDir,
): ClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeConfigError(
      'not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set) and no --kubeconfig given',
    );
  }
  const tokenFile = `${dir}/token`;
  try {
    readFileSync(tokenFile);
  } catch (err) {
    throw new KubeConfigError(
      `in-cluster: cannot read the ServiceAccount token ${tokenFile} (${(err as Error).message}); is automountServiceAccountToken off?`,
    );
  }
  let namespace: string | undefined;
  try {
    namespace = readFileSync(`${dir}/namespace`, 'utf8').trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: { file: `${dir}/ca.crt` },
    token: { file: tokenFile },
    namespace,
    origin: 'the in-cluster ServiceAccount',
  };
}

type Doc = Record<string, unknown>;
interface Named {
  readonly name: string;
  readonly body: Doc;
  /** The field path of the entry, for messages: clusters[2].cluster. */
  readonly path: string;
  /** The directory relative paths in it are resolved against. */
  readonly baseDir: string;
  readonly file: string;
}

interface Merged {
  readonly clusters: Map<string, Named>;
  readonly users: Map<string, Named>;
  readonly contexts: Map<string, Named>;
  currentContext: string | undefined;
  currentContextFile: string | undefined;
}

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function addEntries(merged: Merged, doc: Doc, list: 'clusters' | 'users' | 'contexts', file: string): void {
  const field = { clusters: 'cluster', users: 'user', contexts: 'context' }[list];
  const entries = doc[list];
  if (entries === undefined || entries === null) return;
  if (!Array.isArray(entries)) throw new KubeConfigError(`kubeconfig ${file}: ${list}: must be a list`);
  entries.forEach((entry: unknown, i) => {
    const path = `${list}[${i}]`;
    if (!isDoc(entry) || typeof entry.name !== 'string' || !entry.name)
      throw new KubeConfigError(`kubeconfig ${file}: ${path}.name: must be a non-empty string`);
    const body = entry[field] ?? {};
    if (!isDoc(body)) throw new KubeConfigError(`kubeconfig ${file}: ${path}.${field}: must be a mapping`);
    if (!merged[list].has(entry.name))
      merged[list].set(entry.name, {
        name: entry.name,
        body,
        path: `${path}.${field}`,
        baseDir: dirname(file),
        file,
      });
  });
}

function parseDocument(text: string, file: string): Doc {
  let doc: unknown;
  try {
    // JSON first (client-node's exportConfig, generated files); YAML only when needed.
    doc = JSON.parse(text);
  } catch {
    doc = parseYaml(text, file);
  }
  if (doc === undefined || doc === null) return {};
  if (!isDoc(doc))
    throw new KubeConfigError(`kubeconfig ${file}: must be a mapping (apiVersion: v1, kind: Config)`);
  return doc;
}

let yamlLoad: ((text: string) => unknown) | undefined;
function parseYaml(text: string, file: string): unknown {
  // js-yaml is loaded only for YAML kubeconfigs: an in-cluster agent never needs it.
  yamlLoad ??= (createRequire(import.meta.url)('js-yaml') as typeof JsYaml).load;
  try {
    return yamlLoad(text);
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

function emptyMerged(): Merged {
  return {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: undefined,
    currentContextFile: undefined,
  };
}

/** Parses kubeconfig text (YAML or JSON) as if it were a file at `origin`. */
export function parseKubeconfig(text: string, origin: string): ClusterConfig {
  const merged = emptyMerged();
  mergeDocument(merged, parseDocument(text, origin), origin);
  return resolveCurrent(merged, origin);
}

function mergeDocument(merged: Merged, doc: Doc, file: string): void {
  for (const list of ['clusters', 'users', 'contexts'] as const) addEntries(merged, doc, list, file);
  const current = doc['current-context'];
  if (merged.currentContext === undefined && typeof current === 'string' && current) {
    merged.currentContext = current;
    merged.currentContextFile = file;
  }
}

export function loadKubeconfigFiles(files: readonly string[]): ClusterConfig {
  const merged = emptyMerged();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new KubeConfigError(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    mergeDocument(merged, parseDocument(text, resolve(file)), resolve(file));
  }
  return resolveCurrent(merged, files.join(':'));
}

function stringField(entry: Named, key: string): string | undefined {
  const value = entry.body[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string')
    throw new KubeConfigError(`kubeconfig ${entry.file}: ${entry.path}.${key}: must be a string`);
  return value;
}

function base64Field(entry: Named, key: string): string | undefined {
  const value = stringField(entry, key);
  if (value === undefined) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  if (!decoded.includes('-----BEGIN'))
    throw new KubeConfigError(`kubeconfig ${entry.file}: ${entry.path}.${key}: is not base64 of a PEM block`);
  return decoded;
}

function material(entry: Named, dataKey: string, fileKey: string): Material | undefined {
  const data = base64Field(entry, dataKey);
  return data !== undefined ? { data } : fileMaterial(entry, fileKey);
}

/** A file named by the entry, resolved against the kubeconfig's directory; it must be readable now. */
function fileMaterial(entry: Named, fileKey: string): Material | undefined {
  const file = stringField(entry, fileKey);
  if (file === undefined) return undefined;
  const path = isAbsolute(file) ? file : resolve(entry.baseDir, file);
  try {
    readFileSync(path);
  } catch (err) {
    throw new KubeConfigError(
      `kubeconfig ${entry.file}: ${entry.path}.${fileKey}: cannot read ${path}: ${(err as Error).message}`,
    );
  }
  return { file: path };
}

function resolveCurrent(merged: Merged, origin: string): ClusterConfig {
  const name = merged.currentContext;
  if (!name) throw new KubeConfigError(`kubeconfig ${origin}: current-context: not set`);
  const context = merged.contexts.get(name);
  if (!context) {
    throw new KubeConfigError(
      `kubeconfig ${merged.currentContextFile ?? origin}: current-context: "${name}" is not among the contexts (${[...merged.contexts.keys()].join(', ') || 'none'})`,
    );
  }
  const clusterName = stringField(context, 'cluster');
  if (!clusterName) throw new KubeConfigError(`kubeconfig ${context.file}: ${context.path}.cluster: not set`);
  const cluster = merged.clusters.get(clusterName);
  if (!cluster)
    throw new KubeConfigError(
      `kubeconfig ${context.file}: ${context.path}.cluster: no cluster named "${clusterName}"`,
    );
  const server = stringField(cluster, 'server');
  if (!server) throw new KubeConfigError(`kubeconfig ${cluster.file}: ${cluster.path}.server: not set`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConfigError(`kubeconfig ${cluster.file}: ${cluster.path}.server: "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new KubeConfigError(
      `kubeconfig ${cluster.file}: ${cluster.path}.server: must be https:// or http://`,
    );
  if (stringField(cluster, 'proxy-url'))
    throw new KubeConfigError(
      `kubeconfig ${cluster.file}: ${cluster.path}.proxy-url: proxies are not supported`,
    );
  const insecure = cluster.body['insecure-skip-tls-verify'];
  if (insecure !== undefined && typeof insecure !== 'boolean')
    throw new KubeConfigError(
      `kubeconfig ${cluster.file}: ${cluster.path}.insecure-skip-tls-verify: must be true or false`,
    );
  const userName = stringField(context, 'user');
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && !user)
    throw new KubeConfigError(
      `kubeconfig ${context.file}: ${context.path}.user: no user named "${userName}"`,
    );
  let token: Material | undefined;
  let clientCertificate: Material | undefined;
  let clientKey: Material | undefined;
  let basicAuth: ClusterConfig['basicAuth'];
  if (user) {
    for (const unsupported of ['exec', 'auth-provider'] as const) {
      if (user.body[unsupported] !== undefined && user.body[unsupported] !== null)
        throw new KubeConfigError(
          `kubeconfig ${user.file}: ${user.path}.${unsupported}: credential plugins are not supported; use a token, tokenFile or client certificate (for example a ServiceAccount token from "kubectl create token")`,
        );
    }
    const inline = stringField(user, 'token');
    token = inline ? { data: inline } : fileMaterial(user, 'tokenFile');
    clientCertificate = material(user, 'client-certificate-data', 'client-certificate');
    clientKey = material(user, 'client-key-data', 'client-key');
    if (!!clientCertificate !== !!clientKey)
      throw new KubeConfigError(
        `kubeconfig ${user.file}: ${user.path}.${clientCertificate ? 'client-key' : 'client-certificate'}(-data): needed with the ${clientCertificate ? 'client certificate' : 'client key'}`,
      );
    const username = stringField(user, 'username');
    const password = stringField(user, 'password');
    if (username !== undefined || password !== undefined) {
      if (username === undefined || password === undefined)
        throw new KubeConfigError(
          `kubeconfig ${user.file}: ${user.path}.${username === undefined ? 'username' : 'password'}: needed with the ${username === undefined ? 'password' : 'username'}`,
        );
      basicAuth = { username, password };
    }
  }
  const namespace = stringField(context, 'namespace');
  return {
    server: server.replace(/\/+$/, ''),
    ca: material(cluster, 'certificate-authority-data', 'certificate-authority'),
    insecureSkipTlsVerify: insecure === true ? true : undefined,
    tlsServerName: stringField(cluster, 'tls-server-name'),
    token,
    clientCertificate,
    clientKey,
    basicAuth,
    namespace,
    origin: `kubeconfig ${origin} (context ${name})`,
  };
}

/** The credentials and TLS material as they are now (files read again). */
export interface Credentials {
  readonly headers: Readonly<Record<string, string>>;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

async function readMaterial(
  value: Material | undefined,
  what: string,
  origin: string,
): Promise<string | undefined> {
  if (!value) return undefined;
  if ('data' in value) return value.data;
  try {
    return await readFile(value.file, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`${origin}: cannot read the ${what} ${value.file}: ${(err as Error).message}`);
  }
}

export async function readCredentials(config: ClusterConfig): Promise<Credentials> {
  const [ca, cert, key, token] = await Promise.all([
    readMaterial(config.ca, 'CA certificate', config.origin),
    readMaterial(config.clientCertificate, 'client certificate', config.origin),
    readMaterial(config.clientKey, 'client key', config.origin),
    readMaterial(config.token, 'token', config.origin),
  ]);
  const headers: Record<string, string> = {};
  const bearer = token?.trim();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  else if (config.basicAuth)
    headers.Authorization = `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
  return { headers, ca, cert, key };
}
