/**
 * What the controller's NAD cache says every node should hold: each NAD's config hash and bucket, and
 * per bucket the digest (lib/node-state.ts) a node holding the same NADs reports. The digests cover
 * every NAD in the cluster, valid or not, as the agent holds every NAD it sees.
 *
 * Each bucket keeps a short history: every change makes a new version, whose digest is remembered.
 * Agents and controller see NAD changes in the same order (one watch stream, ordered by
 * resourceVersion), so a node's digest for a bucket is the digest of some version of that bucket,
 * usually a recent one. A node reporting version v holds exactly the NADs of version v, so it holds
 * a NAD's current config when that config entered the bucket at or before v. This tells presence
 * exactly even while NADs keep being created (when the current digest matches no node for long),
 * and reduces to "node digest == current digest" when nothing changes.
 */
import { createHash } from 'node:crypto';
import { bucketOf, configHash, digestBuckets } from '../lib/node-state.ts';

interface Entry {
  readonly hash: string;
  readonly bucket: number;
  /** The bucket version in which the NAD got its current config. */
  readonly since: number;
}

interface Bucket {
  readonly keys: Set<string>;
  version: number;
  digest: string;
  /** Recent digests and their versions, oldest first (a Map keeps insertion order). */
  readonly history: Map<string, number>;
}

/** Versions remembered per bucket (at 5,000 NADs about 80 per bucket). */
const defaultHistory = 64;

/**
 * The digest of one bucket's lines, exactly as lib/node-state.ts bucketDigests computes it (a unit
 * test holds the two together): sha256 over the sorted "namespace/name=configHash" lines.
 */
function digestOf(lines: string[]): string {
  if (lines.length === 0) return '';
  return createHash('sha256').update(lines.sort().join('\n')).digest('hex').slice(0, 16);
}

export class NetworkIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly buckets: Bucket[] = Array.from({ length: digestBuckets }, () => ({
    keys: new Set<string>(),
    version: 0,
    digest: '',
    history: new Map([['', 0]]),
  }));
  private readonly historyLength: number;

  constructor(historyLength = defaultHistory) {
    this.historyLength = historyLength;
  }

  get size(): number {
    return this.entries.size;
  }

  private bump(bucket: Bucket): void {
    bucket.version++;
    const lines: string[] = [];
    for (const key of bucket.keys) lines.push(`${key}=${this.entries.get(key)!.hash}`);
    bucket.digest = digestOf(lines);
    bucket.history.delete(bucket.digest); // the same set again (a change undone): its newest version
    bucket.history.set(bucket.digest, bucket.version);
    if (bucket.history.size > this.historyLength) bucket.history.delete(bucket.history.keys().next().value!);
  }

  /** Records a NAD's config; returns true when it is new or its config hash changed. */
  upsert(key: string, config: string | undefined): boolean {
    const hash = configHash(config);
    const existing = this.entries.get(key);
    if (existing?.hash === hash) return false;
    const index = existing?.bucket ?? bucketOf(key);
    const bucket = this.buckets[index]!;
    this.entries.set(key, { hash, bucket: index, since: bucket.version + 1 });
    bucket.keys.add(key);
    this.bump(bucket);
    return true;
  }

  remove(key: string): boolean {
    const existing = this.entries.get(key);
    if (!existing) return false;
    this.entries.delete(key);
    const bucket = this.buckets[existing.bucket]!;
    bucket.keys.delete(key);
    this.bump(bucket);
    return true;
  }

  hashOf(key: string): string | undefined {
    return this.entries.get(key)?.hash;
  }

  bucketOf(key: string): number | undefined {
    return this.entries.get(key)?.bucket;
  }

  /** The digest of a bucket that a node holding exactly the cached NADs reports. */
  expectedDigest(bucket: number): string {
    return this.buckets[bucket]?.digest ?? '';
  }

  /**
   * Whether a node that reports `digest` for the NAD's bucket holds the NAD's current config: the
   * digest is that of a remembered version that already had it.
   */
  holds(key: string, digest: string | undefined): boolean {
    const entry = this.entries.get(key);
    if (!entry || digest === undefined) return false;
    const version = this.buckets[entry.bucket]!.history.get(digest);
    return version !== undefined && version >= entry.since;
  }

  keysInBucket(bucket: number): ReadonlySet<string> {
    return this.buckets[bucket]?.keys ?? new Set();
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }
}
