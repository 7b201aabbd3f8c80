/**
 * Is multinet being removed from the cluster, or is this agent only stopping? The agent's own
 * DaemonSet tells: `helm uninstall` deletes it (background propagation: gone before its pods get
 * SIGTERM; foreground: still there with a deletionTimestamp), while a restart, a rolling update, a
 * node drain or a node shutdown leave it in place. A DaemonSet of the same name with another UID is a
 * new installation that owns the node now: its agent writes the same files, so they stay.
 *
 * The agent watches the DaemonSet while it runs (OwnerWatch): `helm uninstall` deletes the agent's
 * RoleBinding and ServiceAccount in the same breath, so by the time its pod gets SIGTERM the agent may
 * no longer be allowed to ask. What the watch saw decides; a read at SIGTERM covers a missed event.
 * Anything uncertain (the API server away, the agent forbidden to read it, nothing seen) keeps the
 * files: a pod waiting for an agent that comes back is better than a pod silently losing its networks.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { ResilientInformer } from '../platform/kube/informer.ts';
import { isNotFound, metadataOnly, type KubeClient, type KubeRequester } from '../platform/kube/rest.ts';

export interface OwnerRef {
  readonly namespace: string;
  readonly name: string;
}

export type OwnerVerdict =
  { readonly removed: true; readonly reason: string } | { readonly removed: false; readonly reason: string };

interface ObjectMeta {
  readonly metadata?: { readonly uid?: string; readonly deletionTimestamp?: string };
}

interface DaemonSetMeta {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly deletionTimestamp?: string;
  };
}

function daemonSetPath(owner: OwnerRef): string {
  return `/apis/apps/v1/namespaces/${owner.namespace}/daemonsets/${owner.name}`;
}

/**
 * Decides, as the agent stops, whether its DaemonSet is gone or being deleted. `startUid` is the UID
 * it had when the agent started (undefined when it could not be read then).
 */
export async function ownerVerdict(
  client: KubeRequester,
  owner: OwnerRef,
  startUid: string | undefined,
  signal: AbortSignal,
): Promise<OwnerVerdict> {
  const what = `DaemonSet ${owner.namespace}/${owner.name}`;
  let ds: ObjectMeta;
  try {
    ds = await client.request<ObjectMeta>({
      method: 'GET',
      path: daemonSetPath(owner),
      accept: metadataOnly.object,
      signal,
    });
  } catch (err) {
    if (isNotFound(err)) return { removed: true, reason: `${what} is gone` };
    return { removed: false, reason: `cannot read ${what} (${errorMessage(err)})` };
  }
  const uid = ds.metadata?.uid;
  if (startUid !== undefined && uid !== undefined && uid !== startUid) {
    return {
      removed: false,
      reason: `${what} was replaced (uid ${startUid} → ${uid}): a new installation owns the node`,
    };
  }
  if (ds.metadata?.deletionTimestamp) {
    return { removed: true, reason: `${what} is being deleted (since ${ds.metadata.deletionTimestamp})` };
  }
  return { removed: false, reason: `${what} is still there (a restart, an upgrade or a drain)` };
}

/** Watches the agent's own DaemonSet (metadata only, that one object) and remembers what it saw. */
export class OwnerWatch {
  private readonly client: KubeClient;
  private readonly owner: OwnerRef;
  private readonly informer: ResilientInformer<DaemonSetMeta>;
  private uid: string | undefined;
  private seen: { readonly uid: string | undefined; readonly reason: string } | undefined;

  constructor(client: KubeClient, owner: OwnerRef, log: Logger) {
    this.client = client;
    this.owner = owner;
    const what = `DaemonSet ${owner.namespace}/${owner.name}`;
    this.informer = new ResilientInformer<DaemonSetMeta>({
      client,
      path: `/apis/apps/v1/namespaces/${owner.namespace}/daemonsets`,
      fieldSelector: `metadata.name=${owner.name}`,
      metadataOnly: true,
      log: log.child({ informer: 'owner-daemonset' }),
    });
    const observe = (ds: DaemonSetMeta): void => {
      const uid = ds.metadata.uid;
      if (this.uid === undefined) this.uid = uid;
      if (uid !== this.uid) return; // a new installation: not this agent's owner
      if (ds.metadata.deletionTimestamp) {
        this.seen = { uid, reason: `${what} is being deleted (since ${ds.metadata.deletionTimestamp})` };
      }
    };
    this.informer.on('add', observe);
    this.informer.on('update', observe);
    this.informer.on('delete', (ds) => {
      if (this.uid === undefined || ds.metadata.uid === this.uid) {
        this.seen = { uid: ds.metadata.uid, reason: `${what} was deleted` };
      }
    });
  }

  /** Starts watching in the background (the agent serves pods meanwhile, even with the API away). */
  start(): void {
    void this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  /** At SIGTERM: a deletion the watch saw decides; else the DaemonSet is read once more. */
  async verdict(signal: AbortSignal): Promise<OwnerVerdict> {
    if (this.seen) return { removed: true, reason: this.seen.reason };
    return ownerVerdict(this.client, this.owner, this.uid, signal);
  }
}
