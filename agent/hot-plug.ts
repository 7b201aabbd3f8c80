/**
 * Networks on running pods: when a pod's networks annotation changes, the agent attaches the networks
 * it now asks for and detaches those it no longer does, in the pod's network namespace, in place (no
 * restart; the container keeps its ID). Level-triggered: a pod's change (or a start, or a resync) makes
 * the agent compare what the pod's sandbox holds, from its own attachment record of the sandbox's ADD
 * (so any runtime works and it survives agent restarts; no CRI socket), with what the annotation asks
 * for (lib/attachment-diff.ts has the matching rules), and apply the difference, removals first.
 *
 * Each pod's change runs in its sandbox's turn (the limiter key of its ADD and DEL), so it never races
 * the runtime's DEL: a pod deleted meanwhile is DEL'd with everything recorded, including what an attach
 * in progress recorded before its delegate ran. Every step is written to the record first, as ADD does.
 * After the change, network-status is rewritten whole (one patch, retried without repeating any
 * delegate) and Events say what happened: AddedInterface, RemovedInterface, FailedAddingInterface,
 * FailedRemovingInterface. A failed attach is rolled back; what failed is tried again at the next change
 * or resync. Only the networks annotation is hot-plugged: the default network, the cluster's default
 * networks and the networks of the pod's ResourceClaims stay as the sandbox got them (the webhook
 * refuses a change of the default-network annotation; a pod's claims cannot change).
 */
import { asCniError } from '../lib/cni/error.ts';
import type { Logger } from 'winston';
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { diffAttachments } from '../lib/attachment-diff.ts';
import { parseCniResult } from '../lib/cni/result.ts';
import { errorMessage } from '../lib/errors.ts';
import { networkStatusFromResult, type NetworkStatus } from '../lib/network-status.ts';
import type { AttachmentCache, AttachmentRecord, CacheRecord } from './attachment-cache.ts';
import type { DelegateRunner, DelegateTarget } from './delegate-runner.ts';
import type { DeviceAttacher } from './devices.ts';
import type { NetworkSource, PodInfo, PodRef } from './network-source.ts';
import { cachedInput, networkOf, recordOf } from './pod-attacher.ts';
import type { AttachmentResolver, PlannedAttachment } from './resolve.ts';

export interface HotPlugDeps {
  readonly runner: DelegateRunner;
  readonly resolver: AttachmentResolver;
  readonly source: NetworkSource;
  readonly cache: AttachmentCache;
  readonly devices: DeviceAttacher;
  readonly log: Logger;
  /** Runs fn in the container's turn and a slot of the limiter, as the sandbox's ADD and DEL run. */
  readonly schedule: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  /** The cluster's default networks (namespace/name), which records from before `selected` existed hold too. */
  readonly defaultNetworks: readonly string[];
}

export type HotPlugOutcome = 'no-sandbox' | 'unchanged' | 'changed' | 'failed';

/** Whether a recorded attachment came from the networks annotation (what hot-plug may add and remove). */
export function isSelected(
  record: AttachmentRecord,
  index: number,
  defaultNetworks: readonly string[],
): boolean {
  if (record.isDefault || record.claim) return false;
  if (record.selected) return true;
  // A record from before `selected` was kept: the cluster's default networks come first after eth0.
  return !(index - 1 < defaultNetworks.length && defaultNetworks[index - 1] === record.name);
}

function targetOf(record: CacheRecord, ifName: string): DelegateTarget {
  const pod = record.pod;
  const args = record.args ?? {
    IgnoreUnknown: '1',
    ...(pod ? { K8S_POD_NAMESPACE: pod.namespace, K8S_POD_NAME: pod.name, K8S_POD_UID: pod.uid } : {}),
    K8S_POD_INFRA_CONTAINER_ID: record.containerId,
  };
  return { containerId: record.containerId, netns: record.netns, ifName, args };
}

/** How soon a pod whose change failed is tried again (the delegate's problem may be passing). */
const retryAfterMs = 30_000;

export class HotPlug {
  private readonly deps: HotPlugDeps;
  /** The latest pod seen per UID while a convergence is queued (rapid edits converge to the last). */
  private readonly queued = new Map<string, PodInfo>();
  /** The networks annotation each pod's sandbox was last converged to (its informer updates come often). */
  private readonly converged = new Map<string, string | undefined>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  /** Convergences started by podChanged and not finished, and who waits for there to be none. */
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(deps: HotPlugDeps) {
    this.deps = deps;
  }

  /**
   * A pod of this node was listed or changed: converges its sandbox's attachments to its networks
   * annotation, unless that is what they were converged to. Edits that come while one is queued are
   * folded into it (the latest wins).
   */
  podChanged(pod: PodInfo): void {
    if (!pod.uid || this.stopped) return;
    const wanted = pod.annotations[networksAnnotation];
    if (this.converged.has(pod.uid) && this.converged.get(pod.uid) === wanted) return;
    const waiting = this.queued.has(pod.uid);
    this.queued.set(pod.uid, pod);
    if (waiting) return;
    this.inFlight++;
    void this.converge(pod)
      .then(
        (outcome) => {
          if (outcome === 'failed') this.retryLater(pod);
        },
        (err: unknown) => {
          this.deps.log.error('hot-plug failed', {
            pod: `${pod.namespace}/${pod.name}`,
            error: errorMessage(err),
          });
          this.retryLater(pod);
        },
      )
      .finally(() => {
        if (--this.inFlight === 0) for (const wake of this.waiters.splice(0)) wake();
      });
  }

  /** Resolves once no convergence that podChanged started is running or queued. */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The pod is gone: nothing more to converge (its sandbox's DEL cleans up). */
  podDeleted(uid: string): void {
    this.converged.delete(uid);
    this.queued.delete(uid);
    clearTimeout(this.retries.get(uid));
    this.retries.delete(uid);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  private retryLater(pod: PodInfo): void {
    if (this.stopped || this.retries.has(pod.uid)) return;
    const timer = setTimeout(() => {
      this.retries.delete(pod.uid);
      this.podChanged(this.queued.get(pod.uid) ?? pod);
    }, retryAfterMs);
    timer.unref();
    this.retries.set(pod.uid, timer);
  }

  /** The sandbox record of the pod, if this agent attached one (the newest complete one). */
  private async sandboxOf(pod: PodRef): Promise<CacheRecord | undefined> {
    const records = (await this.deps.cache.list()).filter((r) => r.complete && r.pod?.uid === pod.uid);
    return records.at(-1);
  }

  /** Converges one pod now; resolves with what happened. */
  async converge(pod: PodInfo): Promise<HotPlugOutcome> {
    let started = false;
    try {
      const sandbox = await this.sandboxOf(pod);
      if (!sandbox) return 'no-sandbox';
      return await this.deps.schedule(sandbox.containerId, async () => {
        started = true;
        // The newest edit, taken when its turn comes; edits after this start a convergence of their own.
        const latest = this.queued.get(pod.uid) ?? pod;
        this.queued.delete(pod.uid);
        const record = await this.deps.cache
          .read(sandbox.containerId, sandbox.runtimeIfName)
          .catch(() => undefined);
        // Gone meanwhile (DEL ran first), or an ADD of the sandbox again is not complete: nothing to change.
        if (!record?.complete) return 'no-sandbox';
        const outcome = await this.apply(latest, record);
        if (outcome !== 'failed') this.converged.set(pod.uid, latest.annotations[networksAnnotation]);
        return outcome;
      });
    } finally {
      // Not run at all (no sandbox yet, the queue full, the records unreadable): the next change tries again.
      if (!started) this.queued.delete(pod.uid);
    }
  }

  private async apply(pod: PodInfo, start: CacheRecord): Promise<HotPlugOutcome> {
    const log = this.deps.log.child({ pod: `${pod.namespace}/${pod.name}`, containerId: start.containerId });
    const event = (type: 'Normal' | 'Warning', reason: string, message: string): void =>
      this.deps.source.podEvent?.(pod, type, reason, message);
    let wanted: readonly PlannedAttachment[];
    try {
      // What a sandbox ADD would give the pod now; only its selected networks are hot-plugged.
      const resolution = await this.deps.resolver.resolve({
        pod,
        runtimeIfName: start.runtimeIfName,
        runtimeConfig: {},
      });
      wanted = resolution.attachments.filter((a) => a.selection && !a.claim);
    } catch (err) {
      event(
        'Warning',
        'FailedAddingInterface',
        `cannot apply the networks annotation: ${asCniError(err).message}`,
      );
      return 'failed';
    }
    const held = start.attachments
      .map((a, index) => ({ record: a, key: a.name, ifName: a.ifName, index }))
      .filter((h) => isSelected(h.record, h.index, this.deps.defaultNetworks));
    const taken = start.attachments.filter((_, i) => !held.some((h) => h.index === i)).map((a) => a.ifName);
    const change = diffAttachments(
      held,
      wanted.map((w) => ({ planned: w, key: w.network.name, explicit: w.selection?.interface })),
      taken,
    );
    if (change.remove.length === 0 && change.add.length === 0) return 'unchanged';
    let record = start;
    let failed = false;
    const save = async (attachments: readonly AttachmentRecord[]): Promise<void> => {
      record = { ...record, attachments };
      await this.deps.cache.write(record);
    };
    for (const gone of change.remove) {
      try {
        await this.deps.runner.del(
          networkOf(gone.record),
          targetOf(record, gone.ifName),
          cachedInput(gone.record),
        );
        await this.deps.devices.release(gone.record.device);
        await save(record.attachments.filter((a) => a !== gone.record));
        event('Normal', 'RemovedInterface', `Remove ${gone.ifName} from ${gone.key}`);
        log.info('detached', { network: gone.key, ifName: gone.ifName });
      } catch (err) {
        failed = true;
        const cause = asCniError(err);
        event(
          'Warning',
          'FailedRemovingInterface',
          `Remove ${gone.ifName} from ${gone.key}: ${cause.message}`,
        );
        log.warn('hot-unplug failed; kept for the next try', {
          network: gone.key,
          ifName: gone.ifName,
          error: cause.message,
        });
      }
    }
    const added: string[] = [];
    const inUse = record.attachments.flatMap((a) => (a.device ? [a.device.deviceId] : []));
    for (const { wanted: w, ifName } of change.add) {
      let planned: PlannedAttachment | undefined;
      try {
        [planned] = await this.deps.devices.assign(
          [{ ...w.planned, ifName }],
          pod,
          record.containerId,
          inUse,
        );
      } catch (err) {
        failed = true;
        event('Warning', 'FailedAddingInterface', `Add ${ifName} from ${w.key}: ${asCniError(err).message}`);
        continue;
      }
      if (!planned) continue;
      if (planned.device) inUse.push(planned.device.deviceId);
      const attempted = recordOf(planned);
      const before = record.attachments;
      try {
        await save([...before, attempted]);
        if (planned.device) await this.deps.devices.prepare(planned.device);
        const result = await this.deps.runner.add(planned.network, targetOf(record, ifName), {
          runtimeConfig: planned.runtimeConfig,
          ...(planned.cniArgs ? { cniArgs: planned.cniArgs } : {}),
        });
        await save([...before, recordOf(planned, result)]);
        added.push(ifName);
        log.info('attached', { network: w.key, ifName });
      } catch (err) {
        failed = true;
        const cause = asCniError(err);
        // Roll back what the delegate may have done; the record keeps it only if that fails too.
        try {
          await this.deps.runner.del(planned.network, targetOf(record, ifName), {
            runtimeConfig: planned.runtimeConfig,
          });
          await this.deps.devices.release(planned.device);
          await save(before);
        } catch (rollbackErr) {
          log.warn('rollback of a failed hot-plug failed; kept in the record for DEL', {
            error: errorMessage(rollbackErr),
          });
        }
        event('Warning', 'FailedAddingInterface', `Add ${ifName} from ${w.key}: ${cause.message}`);
      }
    }
    await this.publish(pod, record, added);
    return failed ? 'failed' : 'changed';
  }

  /** network-status, whole, from the record (every attachment's result), announcing what was added. */
  private async publish(pod: PodRef, record: CacheRecord, added: readonly string[]): Promise<void> {
    const statuses: NetworkStatus[] = [];
    for (const a of record.attachments) {
      if (!a.result) continue;
      const deviceInfo = a.device ? await this.deps.devices.info(a.device) : undefined;
      statuses.push(
        ...networkStatusFromResult(parseCniResult(a.result), {
          name: a.name,
          ifName: a.ifName,
          isDefault: a.isDefault,
          ...(deviceInfo ? { deviceInfo } : {}),
        }),
      );
    }
    try {
      await this.deps.source.publishStatus(pod, statuses, record.containerId, { added });
    } catch (err) {
      this.deps.log.error('could not publish network-status', {
        pod: `${pod.namespace}/${pod.name}`,
        error: errorMessage(err),
      });
    }
  }
}
