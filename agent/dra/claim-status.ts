/**
 * Writes a ResourceClaim's status.devices for the devices this driver attached (KEP-4817): after a
 * sandbox ADD each network device's entry gets a Ready condition and its networkData (the interface,
 * its addresses with their prefix, its MAC: the same attachment network-status lists), and after its
 * DEL the entry goes. Other drivers' entries are left as they are: the status is read, merged and
 * written back with the claim's resourceVersion (a merge patch), again on a conflict. The API server
 * allows it only for the driver's entries of a claim allocated on the writer's node (resourceclaims/
 * driver, associated-node:patch), and the chart's node identity policy says the same. The ADD never
 * waits for it; a write the API refuses for a while is tried again a few times, then logged.
 */
import type { Logger } from 'winston';
import { backoffDelay } from '../../lib/backoff.ts';
import {
  attachedDeviceStatus,
  mergeDeviceStatuses,
  networkDataFromResult,
  resourceClaimPath,
  type ClaimDeviceRef,
  type DeviceStatus,
} from '../../lib/dra.ts';
import { errorMessage } from '../../lib/errors.ts';
import {
  contentTypes,
  isConflict,
  isForbidden,
  isInvalid,
  isNotFound,
  type KubeRequester,
} from '../../platform/kube/rest.ts';
import type { PodRef } from '../network-source.ts';
import type { ClaimAttachment, ClaimStatusSink } from '../pod-attacher.ts';

export interface ClaimStatusWriterOptions {
  readonly client: KubeRequester;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Tries of one write that the API answers with something else than a final refusal (default 6). */
  readonly attempts?: number;
}

interface Claim {
  readonly metadata?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly status?: { readonly devices?: unknown };
}

export class ClaimStatusWriter implements ClaimStatusSink {
  private readonly options: ClaimStatusWriterOptions;
  /** One write at a time per claim, in the order they were asked for. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(options: ClaimStatusWriterOptions) {
    this.options = options;
  }

  attached(pod: PodRef, attachments: readonly ClaimAttachment[]): void {
    const now = this.options.now?.() ?? new Date();
    for (const [, items] of groupByClaim(attachments, (a) => a.claim)) {
      const refs = items.map((a) => a.claim);
      const entries = items.map((a) =>
        attachedDeviceStatus(a.claim, networkDataFromResult(a.result, a.ifName), pod, now),
      );
      this.enqueue(refs[0]!, refs, entries);
    }
  }

  detached(_pod: PodRef, claims: readonly ClaimDeviceRef[]): void {
    for (const [, refs] of groupByClaim(claims, (c) => c)) this.enqueue(refs[0]!, refs, []);
  }

  /** Resolves once every write asked for so far is done (tests, and the agent's stop). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all(this.queues.values());
  }

  private enqueue(
    claim: ClaimDeviceRef,
    refs: readonly ClaimDeviceRef[],
    entries: readonly DeviceStatus[],
  ): void {
    const previous = this.queues.get(claim.uid) ?? Promise.resolve();
    const next = previous.then(() => this.write(claim, refs, entries));
    this.queues.set(claim.uid, next);
    void next.finally(() => {
      if (this.queues.get(claim.uid) === next) this.queues.delete(claim.uid);
    });
  }

  private async write(
    claim: ClaimDeviceRef,
    refs: readonly ClaimDeviceRef[],
    entries: readonly DeviceStatus[],
  ): Promise<void> {
    const { client, log } = this.options;
    const path = resourceClaimPath(claim.namespace, claim.name);
    const attempts = this.options.attempts ?? 6;
    for (let attempt = 0; ; attempt++) {
      try {
        const current = await client.request<Claim>({ method: 'GET', path });
        // Another claim of the same name (the pod's was deleted and made again): not ours to change.
        if (current.metadata?.uid !== claim.uid) return;
        await client.request({
          method: 'PATCH',
          path: `${path}/status`,
          contentType: contentTypes.mergePatch,
          body: {
            metadata: { resourceVersion: current.metadata.resourceVersion },
            status: { devices: mergeDeviceStatuses(current.status?.devices, refs, entries) },
          },
          ignoreResponse: true,
        });
        return;
      } catch (err) {
        // Gone, or deallocated meanwhile (the entries no longer match an allocated device): nothing to say.
        if (isNotFound(err) || (isInvalid(err) && entries.length === 0)) return;
        const final = isForbidden(err) || isInvalid(err);
        if (final || attempt + 1 >= attempts) {
          log.warn('cannot write the status of a ResourceClaim', {
            claim: `${claim.namespace}/${claim.name}`,
            error: errorMessage(err),
          });
          return;
        }
        if (!isConflict(err))
          await new Promise((resolve) =>
            setTimeout(resolve, backoffDelay(attempt, { baseMs: 500, maxMs: 8000 })),
          );
      }
    }
  }
}

function groupByClaim<T>(items: readonly T[], refOf: (item: T) => ClaimDeviceRef): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const uid = refOf(item).uid;
    const group = groups.get(uid);
    if (group) group.push(item);
    else groups.set(uid, [item]);
  }
  return groups;
}
