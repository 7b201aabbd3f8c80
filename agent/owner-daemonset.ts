/**
 * Is multinet being removed from the cluster, or is this agent only stopping? The agent's own
 * DaemonSet tells: `helm uninstall` deletes it (background propagation: gone before its pods get
 * SIGTERM; foreground: still there with a deletionTimestamp), while a restart, a rolling update, a
 * node drain or a node shutdown leave it in place. A DaemonSet of the same name with another UID is a
 * new installation that owns the node now: its agent writes the same files, so they stay.
 *
 * Anything uncertain (the API server away, the agent forbidden to read it) keeps the files: a pod
 * waiting for an agent that comes back is better than a pod silently losing its networks.
 */
import { errorMessage } from '../lib/errors.ts';
import { isNotFound, metadataOnly, type KubeRequester } from '../platform/kube/rest.ts';

export interface OwnerRef {
  readonly namespace: string;
  readonly name: string;
}

export type OwnerVerdict =
  { readonly removed: true; readonly reason: string } | { readonly removed: false; readonly reason: string };

interface ObjectMeta {
  readonly metadata?: { readonly uid?: string; readonly deletionTimestamp?: string };
}

function daemonSetPath(owner: OwnerRef): string {
  return `/apis/apps/v1/namespaces/${owner.namespace}/daemonsets/${owner.name}`;
}

/** Reads the DaemonSet as metadata only: its UID, or undefined when it cannot be read (logged by the caller). */
export async function ownerUid(
  client: KubeRequester,
  owner: OwnerRef,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const ds = await client.request<ObjectMeta>({
    method: 'GET',
    path: daemonSetPath(owner),
    accept: metadataOnly.object,
    ...(signal ? { signal } : {}),
  });
  return ds.metadata?.uid;
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
