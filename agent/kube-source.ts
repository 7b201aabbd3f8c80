/**
 * The network source backed by the API server: NADs from the node's NadStore (fed by a NAD informer,
 * mirrored on disk), pods from an informer on this node's pods only (field selector spec.nodeName),
 * falling back to one GET when the pod is newer than the cache. network-status is written with a
 * merge patch that carries the pod's UID as a precondition, so a recreated pod of the same name is
 * never given another pod's status; when the API is away the patch is retried in the background and
 * the ADD does not wait for it.
 */
import type { Logger } from 'winston';
import { backoffDelay } from '../lib/backoff.ts';
import { networkStatusAnnotation } from '../lib/annotations/keys.ts';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import { errorMessage } from '../lib/errors.ts';
import type { ObjectCache } from '../platform/kube/informer.ts';
import { nodePod, type PodObject } from '../platform/kube/informers.ts';
import {
  contentTypes,
  isConflict,
  isForbidden,
  isInvalid,
  isNotFound,
  metadataOnly,
  type KubeRequester,
} from '../platform/kube/rest.ts';
import type { NetworkStatus } from '../lib/network-status.ts';
import type { Clock } from '../lib/ports.ts';
import type { NadStore } from './nad-store.ts';
import type { AgentObserver } from './observer.ts';
import type {
  NetworkDefinition,
  NetworkSource,
  PodInfo,
  PodRef,
  PublishAnnouncement,
} from './network-source.ts';

export type { PodObject };

/** Posts a Kubernetes Event about a pod (the agent's recorder); never throws. */
export type PodEventSink = (pod: PodRef, type: 'Normal' | 'Warning', reason: string, message: string) => void;

export interface KubeSourceDeps {
  readonly client: KubeRequester;
  /** This node's pods (the informer's cache, trimmed by nodePod). */
  readonly pods: ObjectCache<PodObject>;
  readonly networks: NadStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly event?: PodEventSink;
  /** How long ADD waits for the status patch before leaving it to the background (ms). */
  readonly statusWaitMs?: number;
  /** Told about each status write attempt (metrics). */
  readonly observeWrite?: AgentObserver['statusWrite'];
}

export function podInfo(pod: PodObject): PodInfo {
  return {
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name,
    uid: pod.metadata.uid ?? '',
    annotations: pod.metadata.annotations ?? {},
    ...(pod.claims ? { resourceClaims: pod.claims } : {}),
  };
}

/** 404: the pod is gone; 409: its UID changed (a new pod of the same name). Retrying cannot help. */
function isFinal(err: unknown): boolean {
  return isNotFound(err) || isConflict(err) || isInvalid(err) || isForbidden(err);
}

/** Status patches kept for retry at most (one per pod; the oldest is dropped beyond). */
const maxPendingPatches = 1000;

export class KubeSource implements NetworkSource {
  private readonly deps: KubeSourceDeps;
  /** Status patches waiting for the API, by pod UID (newest wins). */
  private readonly pending = new Map<
    string,
    { pod: PodRef; value: string; attempt: number; timer: NodeJS.Timeout }
  >();

  constructor(deps: KubeSourceDeps) {
    this.deps = deps;
  }

  async getPod(ref: PodRef): Promise<PodInfo | undefined> {
    const cached = this.deps.pods.get(ref.name, ref.namespace);
    if (cached && (!ref.uid || cached.metadata.uid === ref.uid)) return podInfo(cached);
    // Not in the cache yet (the runtime is fast after scheduling), or an older pod of the same name.
    // The whole pod (not its metadata only): its ResourceClaims are in its spec and status.
    try {
      const pod = nodePod(
        await this.deps.client.request<PodObject>({
          method: 'GET',
          path: `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/pods/${encodeURIComponent(ref.name)}`,
        }),
      );
      if (ref.uid && pod.metadata.uid && pod.metadata.uid !== ref.uid) {
        throw new CniError(
          CniErrorCode.tryAgainLater,
          `pod ${ref.namespace}/${ref.name} with UID ${ref.uid} no longer exists (the API has UID ${pod.metadata.uid})`,
        );
      }
      return podInfo(pod);
    } catch (err) {
      if (err instanceof CniError) throw err;
      if (isNotFound(err)) return undefined;
      // Never attach only the default network because the annotations could not be read.
      throw new CniError(
        CniErrorCode.tryAgainLater,
        `cannot read pod ${ref.namespace}/${ref.name}: it is not in the agent's cache yet and the API server did not answer: ${errorMessage(err)}`,
      );
    }
  }

  getNetwork(namespace: string, name: string): Promise<NetworkDefinition | undefined> {
    return Promise.resolve(this.deps.networks.get(namespace, name));
  }

  async publishStatus(
    pod: PodRef,
    statuses: readonly NetworkStatus[],
    _containerId?: string,
    announce?: PublishAnnouncement,
  ): Promise<void> {
    const value = JSON.stringify(statuses, null, 2);
    // The first attempt runs now; ADD waits for it a short while, a failure is retried in the background.
    const attempt = this.patch(pod, value).catch((err: unknown) => {
      if (isFinal(err))
        this.deps.log.warn('cannot write network-status', {
          pod: `${pod.namespace}/${pod.name}`,
          error: errorMessage(err),
        });
      else this.retryLater(pod, value, 1);
    });
    // The Events once the patch is answered: ADD waits for the patch, never for them, and they must
    // not compete with it at the API server and etcd (measured: the patch took ~2.5 ms longer). And
    // once the CNI answer is written: it goes out in this turn's promise callbacks, setImmediate runs
    // after them (the first Event's request was built in between, before ADD's answer).
    void attempt.then(() =>
      setImmediate(() =>
        this.addedInterfaceEvents(
          pod,
          announce ? statuses.filter((s) => s.interface && announce.added.includes(s.interface)) : statuses,
        ),
      ),
    );
    const waited = new AbortController();
    await Promise.race([
      attempt,
      this.deps.clock.sleep(this.deps.statusWaitMs ?? 3000, waited.signal).catch(() => undefined),
    ]);
    waited.abort();
  }

  private addedInterfaceEvents(pod: PodRef, statuses: readonly NetworkStatus[]): void {
    for (const status of statuses) {
      if (status.interface) {
        const ips = status.ips ?? [];
        this.deps.event?.(
          pod,
          'Normal',
          'AddedInterface',
          `Add ${status.interface} [${ips.join(',')}] from ${status.name}`,
        );
      }
    }
  }

  podEvent(pod: PodRef, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.event?.(pod, type, reason, message);
  }

  released(pod: PodRef): void {
    this.forget(pod.uid || `${pod.namespace}/${pod.name}`);
  }

  /** Drops pending status patches for a pod that is being torn down. */
  forget(podUid: string): void {
    const pending = this.pending.get(podUid);
    if (pending) clearTimeout(pending.timer);
    this.pending.delete(podUid);
  }

  stop(): void {
    for (const uid of [...this.pending.keys()]) this.forget(uid);
  }

  private async patch(pod: PodRef, value: string): Promise<void> {
    const body = {
      metadata: { ...(pod.uid ? { uid: pod.uid } : {}), annotations: { [networkStatusAnnotation]: value } },
    };
    const started = performance.now();
    const elapsed = (): number => (performance.now() - started) / 1000;
    try {
      await this.deps.client.request({
        method: 'PATCH',
        path: `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}`,
        body,
        contentType: contentTypes.mergePatch,
        // The answer is not read: its metadata only, not the whole pod (its spec and status) re-encoded.
        accept: metadataOnly.object,
        ignoreResponse: true,
      });
    } catch (err) {
      this.deps.observeWrite?.('error', elapsed());
      throw err;
    }
    this.deps.observeWrite?.('ok', elapsed());
    this.deps.log.debug('network-status written', { pod: `${pod.namespace}/${pod.name}` });
  }

  private retryLater(pod: PodRef, value: string, attempt: number): void {
    const key = pod.uid || `${pod.namespace}/${pod.name}`;
    this.forget(key);
    const delay = backoffDelay(attempt - 1, { baseMs: 1000, maxMs: 60_000 });
    const timer = setTimeout(() => {
      this.pending.delete(key);
      this.patch(pod, value).catch((err: unknown) => {
        if (isFinal(err) || attempt >= 20) {
          this.deps.log.warn('giving up on writing network-status', {
            pod: `${pod.namespace}/${pod.name}`,
            error: errorMessage(err),
          });
          return;
        }
        this.retryLater(pod, value, attempt + 1);
      });
    }, delay);
    timer.unref();
    if (this.pending.size >= maxPendingPatches) {
      const [oldest] = this.pending.keys();
      this.deps.log.warn('too many network-status patches waiting for the API; dropping the oldest', {
        pod: this.pending.get(oldest!)?.pod.name,
      });
      this.forget(oldest!);
    }
    this.pending.set(key, { pod, value, attempt, timer });
  }
}
