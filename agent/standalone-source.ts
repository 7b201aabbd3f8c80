/**
 * The network source without an API server: NADs (and, optionally, pods with their annotations) are
 * read from YAML/JSON manifest files in directories, and network-status is written to a file per pod
 * under the state dir (`network-status/NAMESPACE_NAME.json`, beside it `.NAMESPACE_NAME.owner`: the
 * container that wrote it, whose DEL removes both). Files are re-read when they change. A pod's
 * status files are written and removed one operation at a time: two sandboxes of one pod hold
 * different container turns, and a removal that read the owner before the other's write would
 * otherwise take the new owner file and leave its status behind for good.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'winston';
import { podClaimNames } from '../lib/k8s/pod-claims.ts';
import { errorMessage } from '../lib/errors.ts';
import { dns1123LabelError, dns1123SubdomainError } from '../lib/k8s/names.ts';
import { parseManifests } from '../lib/k8s/manifests.ts';
import { nadKind } from '../lib/nad.ts';
import type { NetworkStatus } from '../lib/network-status.ts';
import type { FileSystem } from '../lib/ports.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import {
  networkDefinition,
  type NetworkDefinition,
  type NetworkSource,
  type PodInfo,
  type PodRef,
} from './network-source.ts';

const manifestFile = /\.(ya?ml|json)$/;

/**
 * Timestamps this close to the moment a file was looked at do not prove that it stayed the same: a
 * file system with coarse timestamps (1 s, 2 s) gives a rewrite in the same tick the same times.
 */
const racyMs = 2500;

interface CachedFile<T> {
  /** Inode, size, mtime and ctime: mtime alone misses `cp -p` and `rsync -t`, which put it back. */
  readonly signature: string;
  /** The content's hash, compared when the signature cannot be trusted (racy). */
  readonly hash: string;
  /** Its timestamps were within racyMs of the look: the next read compares the content. */
  readonly racy: boolean;
  readonly entries: T[];
}

/**
 * Objects of one kind read from a directory of manifests, each converted once (validated NADs, pods)
 * and converted again only when its file changes: its inode, size, mtime or ctime differ, or, for a
 * file changed moments before it was last looked at, its content.
 */
class ManifestDir<T> {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly kind: string;
  private readonly log: Logger;
  private readonly convert: (object: JsonObject) => T;
  private readonly now: () => number;
  private readonly files = new Map<string, CachedFile<T>>();

  constructor(
    fs: FileSystem,
    dir: string,
    kind: string,
    log: Logger,
    convert: (object: JsonObject) => T,
    now: () => number,
  ) {
    this.fs = fs;
    this.dir = dir;
    this.kind = kind;
    this.log = log;
    this.convert = convert;
    this.now = now;
  }

  async read(): Promise<T[]> {
    const names = (await this.fs.list(this.dir))
      .filter((n) => manifestFile.test(n) && !n.startsWith('.'))
      .sort();
    const present = new Set(names);
    for (const name of [...this.files.keys()]) if (!present.has(name)) this.files.delete(name);
    const out: T[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      const lookedAt = this.now();
      const info = await this.fs.stat(path);
      const signature = `${info?.ino}:${info?.size}:${info?.mtimeMs}:${info?.ctimeMs}`;
      const racy = info !== undefined && lookedAt - Math.max(info.mtimeMs, info.ctimeMs ?? 0) < racyMs;
      let file = this.files.get(name);
      if (!file || file.signature !== signature || file.racy) {
        let text: string | undefined;
        try {
          text = await this.fs.readFile(path);
        } catch (err) {
          this.log.warn('cannot read manifest file', { path, error: errorMessage(err) });
        }
        const hash = createHash('sha256')
          .update(text ?? '')
          .digest('hex');
        file = {
          signature,
          hash,
          racy,
          entries: file?.hash === hash ? file.entries : this.parse(path, text),
        };
        this.files.set(name, file);
      }
      out.push(...file.entries);
    }
    return out;
  }

  private parse(path: string, text: string | undefined): T[] {
    if (text === undefined) return [];
    try {
      return parseManifests(text)
        .map((d) => d.object)
        .filter((o) => o.kind === this.kind)
        .map(this.convert);
    } catch (err) {
      this.log.warn('cannot read manifest file', { path, error: errorMessage(err) });
      return [];
    }
  }
}

function metadataOf(object: JsonObject): {
  name: string;
  namespace: string;
  uid: string;
  annotations: Record<string, string>;
  resourceClaims?: string[];
} {
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const claims = podClaimNames(object);
  const annotations: Record<string, string> = {};
  if (isObject(metadata.annotations)) {
    for (const [k, v] of Object.entries(metadata.annotations)) if (typeof v === 'string') annotations[k] = v;
  }
  return {
    name: typeof metadata.name === 'string' ? metadata.name : '',
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : 'default',
    uid: typeof metadata.uid === 'string' ? metadata.uid : '',
    annotations,
    ...(claims.length > 0 ? { resourceClaims: claims } : {}),
  };
}

export interface StandaloneSourceOptions {
  readonly nadDir: string;
  readonly podDir?: string | undefined;
  readonly stateDir: string;
  /** The clock's time in ms (to tell files changed moments before they were read). Default: Date.now. */
  readonly now?: () => number;
}

export class StandaloneSource implements NetworkSource {
  private readonly fs: FileSystem;
  private readonly nads: ManifestDir<NetworkDefinition>;
  private readonly pods: ManifestDir<PodInfo> | undefined;
  private readonly statusDir: string;
  /** The status operations of each pod, by status file: each waits for the one before. */
  private readonly statusWork = new Map<string, Promise<void>>();

  constructor(fs: FileSystem, options: StandaloneSourceOptions, log: Logger) {
    this.fs = fs;
    const now = options.now ?? Date.now;
    this.nads = new ManifestDir(
      fs,
      options.nadDir,
      nadKind,
      log,
      (object) => {
        const meta = metadataOf(object);
        return networkDefinition(object, meta.namespace, meta.name, meta.annotations);
      },
      now,
    );
    this.pods = options.podDir
      ? new ManifestDir(fs, options.podDir, 'Pod', log, (object): PodInfo => metadataOf(object), now)
      : undefined;
    this.statusDir = join(options.stateDir, 'network-status');
  }

  async getPod(ref: PodRef): Promise<PodInfo | undefined> {
    const pod = (await this.pods?.read())?.find((p) => p.name === ref.name && p.namespace === ref.namespace);
    return pod ? { ...pod, uid: pod.uid || ref.uid } : undefined;
  }

  async getNetwork(namespace: string, name: string): Promise<NetworkDefinition | undefined> {
    return (await this.nads.read()).find((n) => n.namespace === namespace && n.name === name);
  }

  /** The pod's status file and its owner file; the names were checked where the request entered, and again here. */
  private statusFiles(pod: PodRef): { status: string; owner: string } {
    const problem = dns1123LabelError(pod.namespace) ?? dns1123SubdomainError(pod.name);
    if (problem) throw new Error(`no network-status file for pod ${pod.namespace}/${pod.name}: ${problem}`);
    const base = `${pod.namespace}_${pod.name}`;
    return { status: join(this.statusDir, `${base}.json`), owner: join(this.statusDir, `.${base}.owner`) };
  }

  /** Runs work on a pod's status files after the work already queued for them. */
  private serially(status: string, work: () => Promise<void>): Promise<void> {
    const run = (this.statusWork.get(status) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    this.statusWork.set(status, settled);
    void settled.then(() => {
      if (this.statusWork.get(status) === settled) this.statusWork.delete(status);
    });
    return run;
  }

  async publishStatus(pod: PodRef, statuses: readonly NetworkStatus[], containerId: string): Promise<void> {
    const files = this.statusFiles(pod);
    await this.serially(files.status, async () => {
      await this.fs.mkdir(this.statusDir, 0o755);
      await this.fs.writeFileAtomic(files.owner, `${containerId}\n`, 0o644, { fsync: false });
      await this.fs.writeFileAtomic(files.status, `${JSON.stringify(statuses, null, 2)}\n`, 0o644, {
        fsync: false,
      });
    });
  }

  async withdrawStatus(pod: PodRef, containerId: string): Promise<void> {
    const files = this.statusFiles(pod);
    await this.serially(files.status, async () => {
      const owner = await this.fs.readFile(files.owner).catch(() => undefined);
      if (owner?.trim() !== containerId) return; // another sandbox of the pod published since
      await this.fs.remove(files.status);
      await this.fs.remove(files.owner);
    });
  }

  /** Temp files of writes a kill interrupted, and owner files whose status file is gone. */
  async sweep(): Promise<void> {
    await this.fs.removeTempFiles(this.statusDir);
    const names = new Set(await this.fs.list(this.statusDir));
    for (const name of names) {
      const owned = /^\.(.+)\.owner$/.exec(name);
      if (owned && !names.has(`${owned[1]}.json`)) await this.fs.remove(join(this.statusDir, name));
    }
  }
}
