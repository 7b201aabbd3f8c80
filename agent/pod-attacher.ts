/**
 * The meta-plugin's semantics (multi-net-spec + Multus): ADD runs the pod's delegates in order and
 * rolls back on the first failure; DEL runs them in reverse from the on-disk cache and carries on past
 * errors; CHECK runs them in order; STATUS and GC go to the default network. Nothing here runs two
 * delegates of one pod at once: the server serializes requests per container.
 */
import type { Logger } from 'winston';
import { parseCniArgs, podArgsFrom } from '../lib/cni/args.ts';
import { networkConfigFrom } from '../lib/cni/config.ts';
import type { InvocationInput } from '../lib/cni/invocation.ts';
import { asCniError, CniError, CniErrorCode } from '../lib/cni/error.ts';
import type { CniRequest } from '../lib/cni/request.ts';
import { convertCniResult, parseCniResult, resultToJson, type CniResult } from '../lib/cni/result.ts';
import {
  isSupportedCniVersion,
  latestCniVersion,
  supportedCniVersions,
  type CniVersion,
} from '../lib/cni/version.ts';
import { backoffDelay, type BackoffPolicy } from '../lib/backoff.ts';
import type { ClaimDeviceRef } from '../lib/dra.ts';
import { errorMessage } from '../lib/errors.ts';
import { networkStatusFromResult, type DeviceInfo, type NetworkStatus } from '../lib/network-status.ts';
import type { FileSystem } from '../lib/ports.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import type { AttachmentCache, AttachmentRecord, CacheRecord } from './attachment-cache.ts';
import type { DeviceAttacher } from './devices.ts';
import type { MultusCache, MultusRecord } from './multus-cache.ts';
import { type DelegateNetwork, type DelegateRunner, type DelegateTarget } from './delegate-runner.ts';
import { QueueFullError } from './limiter.ts';
import type { NetworkSource, PodRef } from './network-source.ts';
import type { AttachmentResolver, PlannedAttachment } from './resolve.ts';

/**
 * Told what the agent attached from ResourceClaims and when it went (the DRA driver writes the claims'
 * status.devices from it); never throws, never delays the request.
 */
/** One attachment of a ResourceClaim's device: the claim's device, its interface and its result. */
export interface ClaimAttachment {
  readonly claim: ClaimDeviceRef;
  readonly ifName: string;
  readonly result: CniResult;
}

export interface ClaimStatusSink {
  attached(pod: PodRef, attachments: readonly ClaimAttachment[]): void;
  detached(pod: PodRef, claims: readonly ClaimDeviceRef[]): void;
}

export interface PodAttacherDeps {
  readonly runner: DelegateRunner;
  readonly resolver: AttachmentResolver;
  readonly source: NetworkSource;
  readonly cache: AttachmentCache;
  /** Device networks: their devices from the kubelet, and the device-info files around their delegates. */
  readonly devices: DeviceAttacher;
  readonly fs: FileSystem;
  readonly log: Logger;
  /** Sets a selection's default route inside the pod (see default-route.ts). */
  readonly setDefaultRoute: (netns: string, ifName: string, gateways: readonly string[]) => Promise<void>;
  /**
   * Runs fn in the container's turn and a slot of the limiter (WorkLimiter.run). Every unit of work
   * goes through it, one unit at a time: nothing scheduled waits for other scheduled work.
   */
  readonly schedule: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  /** The clock's time in ms (GC's retry backoff). */
  readonly now: () => number;
  /** Where attachments from ResourceClaims are reported (with the DRA driver on). */
  readonly claimStatus?: ClaimStatusSink | undefined;
  /** Multus' records of pods it attached before multinet took the node over (DEL releases what it attached). */
  readonly multus?: MultusCache;
}

/** How GC retries a stale attachment whose DEL failed: after 1 min, doubling up to 1 h. */
const gcRetry: BackoffPolicy = { baseMs: 60_000, maxMs: 3_600_000 };

/** The limiter key of a request: its container, or (STATUS, VERSION) its command ('#' is no container ID character). */
function workKey(request: CniRequest): string {
  return request.containerId || `#${request.command}`;
}

function attachmentKey(containerId: string, ifName: string): string {
  return `${containerId}/${ifName}`;
}

function requestVersion(request: CniRequest): CniVersion {
  const version = request.config.cniVersion;
  return isSupportedCniVersion(version) ? version : latestCniVersion;
}

function podRefOf(request: CniRequest): PodRef | undefined {
  const pod = podArgsFrom(parseCniArgs(request.args));
  return pod ? { namespace: pod.namespace, name: pod.name, uid: pod.uid } : undefined;
}

export function targetOf(request: CniRequest, ifName: string): DelegateTarget {
  return { containerId: request.containerId, netns: request.netns, ifName, args: parseCniArgs(request.args) };
}

/** A cached attachment's network, as it was validated at ADD time (not re-checked: DEL must not fail on that). */
export function networkOf(record: AttachmentRecord): DelegateNetwork {
  return { name: record.name, config: networkConfigFrom(record.config, record.name) };
}

/** Inputs a cached attachment hands its delegates again (DEL, CHECK). */
export function cachedInput(attachment: AttachmentRecord): InvocationInput {
  return {
    ...(attachment.runtimeConfig ? { runtimeConfig: attachment.runtimeConfig } : {}),
    ...(attachment.cniArgs ? { cniArgs: attachment.cniArgs } : {}),
    ...(attachment.result ? { prevResult: attachment.result } : {}),
  };
}

/** "default/macvlan-conf@net1, ..." for one log line per request. */
export function describe(attachments: readonly AttachmentRecord[]): string {
  return attachments.map((a) => `${a.name}@${a.ifName}`).join(', ');
}

export function recordOf(attachment: PlannedAttachment, result?: CniResult): AttachmentRecord {
  return {
    name: attachment.network.name,
    ifName: attachment.ifName,
    isDefault: attachment.isDefault,
    config: attachment.network.config.raw,
    ...(Object.keys(attachment.runtimeConfig).length > 0 ? { runtimeConfig: attachment.runtimeConfig } : {}),
    ...(attachment.cniArgs ? { cniArgs: attachment.cniArgs } : {}),
    ...(attachment.device ? { device: attachment.device } : {}),
    ...(result ? { result: resultToJson(result) } : {}),
    ...(attachment.claim
      ? { claim: attachment.claim }
      : attachment.selection
        ? { selected: true as const }
        : {}),
  };
}

/** A record of attachments the agent did not record itself (DEL without its record), for delAttachments. */
function recordFor(request: CniRequest, attachments: readonly AttachmentRecord[]): CacheRecord {
  return {
    version: 1,
    containerId: request.containerId,
    runtimeIfName: request.ifName,
    netns: request.netns,
    pod: podRefOf(request),
    cniVersion: requestVersion(request),
    attachments,
    complete: false,
  };
}

export class PodAttacher {
  private readonly deps: PodAttacherDeps;
  /** Stale attachments whose GC failed: when GC may try them again. */
  private readonly gcRetries = new Map<string, { failures: number; notBefore: number }>();

  constructor(deps: PodAttacherDeps) {
    this.deps = deps;
  }

  /** Serves one request: in its container's turn and a limiter slot; GC as one unit per stale container. */
  async handle(request: CniRequest): Promise<JsonObject | null> {
    if (request.command === 'GC') {
      await this.gc(request);
      return null;
    }
    return this.deps.schedule(workKey(request), () => this.dispatch(request));
  }

  private async dispatch(request: CniRequest): Promise<JsonObject | null> {
    switch (request.command) {
      case 'ADD':
        return this.add(request);
      case 'DEL':
        await this.del(request);
        return null;
      case 'CHECK':
        await this.check(request);
        return null;
      case 'STATUS':
        await this.status();
        return null;
      case 'GC':
        throw new Error('GC is not one unit of work');
      case 'VERSION':
        // The shim answers VERSION itself; this serves other clients of the socket (debugging with curl).
        return { cniVersion: requestVersion(request), supportedVersions: [...supportedCniVersions] };
    }
  }

  private async add(request: CniRequest): Promise<JsonObject> {
    const log = this.deps.log.child({ containerId: request.containerId, command: 'ADD' });
    await this.refuseNonNamespace(request.netns);
    this.gcRetries.delete(attachmentKey(request.containerId, request.ifName));
    const previous = await this.readCache(request, log);
    if (previous) {
      log.info('ADD for a container that is already attached: removing the previous attachments first');
      await this.delFromRecord(previous, request, log);
    }
    const pod = podRefOf(request);
    const runtimeConfig = isObject(request.config.runtimeConfig) ? request.config.runtimeConfig : {};
    const resolution = await this.deps.resolver.resolve({
      pod,
      runtimeIfName: request.ifName,
      runtimeConfig,
    });
    const attachments = await this.deps.devices.assign(resolution.attachments, pod, request.containerId);
    const records: AttachmentRecord[] = [];
    const base = {
      version: 1 as const,
      containerId: request.containerId,
      runtimeIfName: request.ifName,
      netns: request.netns,
      pod,
      cniVersion: requestVersion(request),
      args: targetOf(request, request.ifName).args,
    };
    const results: CniResult[] = [];
    // Every failure after the first delegate ran rolls back what was attached (a delegate's error, a
    // record that cannot be written, the default route), so nothing is left for the runtime's DEL.
    const abort = async (attempted: AttachmentRecord[], cause: CniError, message: string): Promise<never> => {
      const leftovers = await this.rollback(
        { ...base, attachments: attempted, complete: false },
        request,
        log,
      );
      const details = [
        cause.details,
        leftovers.length > 0 ? `rollback left ${leftovers.join(', ')} for the runtime's DEL` : '',
      ]
        .filter(Boolean)
        .join('; ');
      throw new CniError(cause.code, message, details || undefined);
    };
    const deviceInfos: Array<DeviceInfo | undefined> = [];
    for (const attachment of attachments) {
      // Record the intent first: if the agent dies during this delegate, DEL still cleans it up.
      try {
        await this.deps.cache.write({
          ...base,
          attachments: [...records, recordOf(attachment)],
          complete: false,
        });
      } catch (err) {
        const cause = asCniError(err);
        const message = `cannot record the attachment of ${attachment.network.name} as ${attachment.ifName}: ${cause.message}`;
        if (records.length === 0) throw new CniError(cause.code, message, cause.details);
        log.warn('cannot record the next attachment; rolling back', { error: cause.message });
        await abort(records, cause, message);
      }
      try {
        if (attachment.device) await this.deps.devices.prepare(attachment.device);
        const result = await this.deps.runner.add(attachment.network, targetOf(request, attachment.ifName), {
          runtimeConfig: attachment.runtimeConfig,
          ...(attachment.cniArgs ? { cniArgs: attachment.cniArgs } : {}),
        });
        results.push(result);
        records.push(recordOf(attachment, result));
        deviceInfos.push(attachment.device ? await this.deps.devices.info(attachment.device) : undefined);
      } catch (err) {
        const cause = asCniError(err);
        log.warn('delegate ADD failed; rolling back', {
          network: attachment.network.name,
          ifName: attachment.ifName,
          error: cause.message,
        });
        await abort(
          [...records, recordOf(attachment)],
          cause,
          `attaching ${attachment.network.name} as ${attachment.ifName} failed: ${cause.message}`,
        );
      }
    }
    const routed = attachments.find((a) => a.selection?.['default-route']);
    if (routed) {
      try {
        await this.deps.setDefaultRoute(request.netns, routed.ifName, routed.selection!['default-route']!);
      } catch (err) {
        const cause = asCniError(err);
        await abort(records, cause, cause.message);
      }
    }
    try {
      await this.deps.cache.write({ ...base, attachments: records, complete: true });
    } catch (err) {
      const cause = asCniError(err);
      log.warn('cannot record the completed ADD; rolling back', { error: cause.message });
      await abort(records, cause, `cannot record the completed ADD: ${cause.message}`);
    }
    if (pod) await this.publish(pod, request.containerId, attachments, results, deviceInfos, log);
    log.info('attached', { pod: pod && `${pod.namespace}/${pod.name}`, networks: describe(records) });
    return resultToJson(convertCniResult(results[0]!, requestVersion(request)));
  }

  private async publish(
    pod: PodRef,
    containerId: string,
    attachments: readonly PlannedAttachment[],
    results: readonly CniResult[],
    deviceInfos: ReadonlyArray<DeviceInfo | undefined>,
    log: Logger,
  ): Promise<void> {
    const statuses: NetworkStatus[] = attachments.flatMap((attachment, i) => {
      const deviceInfo = deviceInfos[i];
      return networkStatusFromResult(results[i]!, {
        name: attachment.network.name,
        ifName: attachment.ifName,
        isDefault: attachment.isDefault,
        ...(deviceInfo ? { deviceInfo } : {}),
      });
    });
    try {
      await this.deps.source.publishStatus(pod, statuses, containerId);
    } catch (err) {
      // The interfaces exist and work: a status that cannot be written now is not worth tearing them down.
      log.error('could not publish network-status', {
        pod: `${pod.namespace}/${pod.name}`,
        error: errorMessage(err),
      });
    }
    const claimed = attachments.flatMap((a, i) =>
      a.claim ? [{ claim: a.claim, ifName: a.ifName, result: results[i]! }] : [],
    );
    if (claimed.length > 0) this.deps.claimStatus?.attached(pod, claimed);
  }

  /**
   * DELs what an ADD attached; returns the networks whose DEL failed (kept in the cache for the
   * runtime's DEL). A record that cannot be rewritten (the state dir is full) stays as it was: it names
   * at least what failed, and DEL of what is already gone is no error.
   */
  private async rollback(record: CacheRecord, request: CniRequest, log: Logger): Promise<string[]> {
    const failures = await this.delAttachments(record, request, log);
    try {
      if (failures.length === 0) await this.deps.cache.remove(request.containerId, request.ifName);
      else {
        const attachments = failures.map((f) => f.record).reverse();
        await this.deps.cache.write({ ...record, attachments, complete: false });
      }
    } catch (err) {
      log.warn('cannot update the attachment record after the rollback', { error: errorMessage(err) });
    }
    return failures.map((f) => `${f.record.name} (${f.record.ifName})`);
  }

  /** DELs the record's attachments in reverse order; returns those that failed. */
  private async delAttachments(
    record: CacheRecord,
    request: CniRequest,
    log: Logger,
  ): Promise<Array<{ record: AttachmentRecord; error: CniError }>> {
    const failures: Array<{ record: AttachmentRecord; error: CniError }> = [];
    for (const attachment of [...record.attachments].reverse()) {
      try {
        await this.deps.runner.del(
          networkOf(attachment),
          targetOf(request, attachment.ifName),
          cachedInput(attachment),
        );
        await this.deps.devices.release(attachment.device);
      } catch (err) {
        const error = asCniError(err);
        log.warn('delegate DEL failed; carrying on', {
          network: attachment.name,
          ifName: attachment.ifName,
          error: error.message,
        });
        failures.push({ record: attachment, error });
      }
    }
    return failures;
  }

  private async delFromRecord(record: CacheRecord, request: CniRequest, log: Logger): Promise<void> {
    const failures = await this.delAttachments(record, request, log);
    if (failures.length === 0) {
      await this.forget(record, log);
      log.info('detached', { networks: describe(record.attachments) });
      return;
    }
    if (!(await this.netnsAlive(request.netns || record.netns))) {
      // Nothing can be attached in a namespace that does not exist (gone, or never one: a regular file).
      log.warn('DEL failures ignored: the pod network namespace is gone', {
        failed: failures.map((f) => f.record.name),
      });
      for (const failure of failures) await this.deps.devices.release(failure.record.device);
      await this.forget(record, log);
      return;
    }
    // Keep only what failed, so the runtime's retry retries just those.
    await this.deps.cache.write({
      ...record,
      attachments: failures.map((f) => f.record).reverse(),
      complete: false,
    });
    const first = failures[0]!;
    throw new CniError(
      first.error.code,
      `detaching ${first.record.name} (${first.record.ifName}) failed: ${first.error.message}`,
      first.error.details,
    );
  }

  /** A container's attachments are gone: its cache record goes, and the status it published. */
  private async forget(record: CacheRecord, log: Logger): Promise<void> {
    await this.deps.cache.remove(record.containerId, record.runtimeIfName);
    const claims = record.attachments.flatMap((a) => (a.claim ? [a.claim] : []));
    if (record.pod && claims.length > 0) await this.releaseClaims(record.pod, claims, log);
    if (!record.pod || !this.deps.source.withdrawStatus) return;
    await this.deps.source
      .withdrawStatus(record.pod, record.containerId)
      .catch((err: unknown) =>
        log.warn('could not remove the network-status of a deleted container', { error: errorMessage(err) }),
      );
  }

  /**
   * The claim devices of a container that is gone: a device another pod of this node still holds (a
   * ResourceClaim shared by several pods) keeps a status, that pod's attachment from its record; the
   * others' entries go.
   */
  private async releaseClaims(pod: PodRef, claims: readonly ClaimDeviceRef[], log: Logger): Promise<void> {
    const sink = this.deps.claimStatus;
    if (!sink) return;
    const held = new Map<string, { pod: PodRef; attachment: ClaimAttachment }>();
    for (const other of await this.deps.cache.list()) {
      for (const a of other.attachments) {
        if (!a.claim || !a.result || !other.pod) continue;
        try {
          const result = parseCniResult(a.result);
          held.set(claimDeviceKey(a.claim), {
            pod: other.pod,
            attachment: { claim: a.claim, ifName: a.ifName, result },
          });
        } catch (err) {
          log.warn('a cached result of a claim device cannot be read', { error: errorMessage(err) });
        }
      }
    }
    const gone = claims.filter((c) => !held.has(claimDeviceKey(c)));
    if (gone.length > 0) sink.detached(pod, gone);
    for (const c of claims) {
      const still = held.get(claimDeviceKey(c));
      if (still) sink.attached(still.pod, [still.attachment]);
    }
  }

  private async del(request: CniRequest): Promise<void> {
    const log = this.deps.log.child({ containerId: request.containerId, command: 'DEL' });
    const pod = podRefOf(request);
    if (pod) this.deps.source.released?.(pod);
    this.gcRetries.delete(attachmentKey(request.containerId, request.ifName));
    const record = await this.readCache(request, log);
    if (record) {
      await this.delFromRecord(record, request, log);
      return;
    }
    const multus = await this.readMultusCache(request, log);
    if (multus) {
      await this.delFromMultus(multus, request, log);
      return;
    }
    // Nothing cached (ADD never ran here, or the state dir was wiped): best effort from what the pod would get.
    let attachments: readonly PlannedAttachment[];
    try {
      const runtimeConfig = isObject(request.config.runtimeConfig) ? request.config.runtimeConfig : {};
      attachments = (
        await this.deps.resolver.resolve({
          pod: podRefOf(request),
          runtimeIfName: request.ifName,
          runtimeConfig,
        })
      ).attachments;
    } catch (err) {
      log.info('DEL without a cache entry: cannot resolve the pod networks, nothing to clean', {
        error: errorMessage(err),
      });
      return;
    }
    const synthetic = recordFor(
      request,
      attachments.map((a) => recordOf(a)),
    );
    const failures = await this.delAttachments(synthetic, request, log);
    if (failures.length > 0)
      log.info('best-effort DEL without a cache entry had failures; not an error', {
        failed: failures.length,
      });
  }

  /** Multus' record of a container multinet has none of (a pod attached before multinet took over). */
  private async readMultusCache(request: CniRequest, log: Logger): Promise<MultusRecord | undefined> {
    try {
      return await this.deps.multus?.read(request.containerId, request.ifName);
    } catch (err) {
      log.error("ignoring Multus' record of the container: it cannot be read", { error: errorMessage(err) });
      return undefined;
    }
  }

  /**
   * DEL of a pod Multus attached: its delegates in reverse, as Multus recorded them; its record goes once
   * they are deleted (or their namespace is gone). A failure is the runtime's to retry, with the record kept.
   */
  private async delFromMultus(multus: MultusRecord, request: CniRequest, log: Logger): Promise<void> {
    const failures = await this.delAttachments(recordFor(request, multus.attachments), request, log);
    if (failures.length > 0 && (await this.netnsAlive(request.netns))) {
      const first = failures[0]!;
      throw new CniError(
        first.error.code,
        `detaching ${first.record.name} (${first.record.ifName}), which Multus attached, failed: ${first.error.message}`,
        first.error.details,
      );
    }
    await this.deps.multus?.forget(multus);
    log.info('detached what Multus attached', {
      networks: describe(multus.attachments),
      ...(failures.length > 0 ? { ignored: 'DEL failures: the pod network namespace is gone' } : {}),
    });
  }

  private async check(request: CniRequest): Promise<void> {
    const record = await this.deps.cache.read(request.containerId, request.ifName);
    if (!record?.complete) {
      throw new CniError(
        CniErrorCode.unknownContainer,
        `no completed ADD is recorded for container ${request.containerId} (${request.ifName})`,
      );
    }
    for (const attachment of record.attachments) {
      await this.deps.runner.check(
        networkOf(attachment),
        targetOf(request, attachment.ifName),
        cachedInput(attachment),
      );
    }
  }

  private async status(): Promise<void> {
    let network: DelegateNetwork;
    try {
      network = await this.deps.resolver.clusterDefault();
    } catch (err) {
      throw new CniError(CniErrorCode.pluginNotAvailable, asCniError(err).message);
    }
    await this.deps.runner.status(network);
  }

  /**
   * GC: attachments not in the runtime's valid list are DELeted, each in its container's turn (one
   * unit of work after another, so GC never holds a slot while it waits for a container); the default
   * network gets GC too. A stale attachment whose DEL failed is tried again later, backing off.
   */
  private async gc(request: CniRequest): Promise<void> {
    const log = this.deps.log.child({ command: 'GC' });
    const raw = request.config['cni.dev/valid-attachments'];
    const valid = Array.isArray(raw)
      ? raw
          .filter(isObject)
          .filter((a) => typeof a.containerID === 'string' && typeof a.ifname === 'string')
          .map((a) => ({ containerID: a.containerID as string, ifname: a.ifname as string }))
      : [];
    const keep = new Set(valid.map((a) => attachmentKey(a.containerID, a.ifname)));
    const listed = new Set<string>();
    for (const record of await this.deps.cache.list()) {
      const key = attachmentKey(record.containerId, record.runtimeIfName);
      listed.add(key);
      if (keep.has(key)) continue;
      const retry = this.gcRetries.get(key);
      if (retry && this.deps.now() < retry.notBefore) continue;
      log.info('collecting a stale attachment', { containerId: record.containerId });
      const stale = {
        ...request,
        command: 'DEL' as const,
        containerId: record.containerId,
        ifName: record.runtimeIfName,
        netns: record.netns,
      };
      try {
        await this.deps.schedule(record.containerId, async () => {
          const current = await this.readCache(stale, log);
          if (current) await this.delFromRecord(current, stale, log);
        });
        this.gcRetries.delete(key);
      } catch (err) {
        if (err instanceof QueueFullError) throw err;
        const failures = (retry?.failures ?? 0) + 1;
        const delayMs = backoffDelay(failures - 1, gcRetry);
        this.gcRetries.set(key, { failures, notBefore: this.deps.now() + delayMs });
        log.warn('GC of a stale attachment failed; trying again later', {
          containerId: record.containerId,
          error: errorMessage(err),
          retryInSeconds: delayMs / 1000,
        });
      }
    }
    for (const key of this.gcRetries.keys()) if (!listed.has(key)) this.gcRetries.delete(key);
    await this.deps.schedule(workKey(request), async () =>
      this.deps.runner.gc(await this.deps.resolver.clusterDefault(), valid),
    );
  }

  /** The cached record; an unreadable one is logged and treated as missing (DEL then cleans best-effort). */
  private async readCache(request: CniRequest, log: Logger): Promise<CacheRecord | undefined> {
    try {
      return await this.deps.cache.read(request.containerId, request.ifName);
    } catch (err) {
      log.error('ignoring an unreadable attachment cache entry', { error: errorMessage(err) });
      return undefined;
    }
  }

  /** Whether a namespace is there: a namespace file (nsfs), not just any file at that path. */
  private async netnsAlive(netns: string): Promise<boolean> {
    if (!netns) return false;
    return this.deps.fs.isNamespaceFile(netns).catch(() => false);
  }

  /**
   * Refuses an ADD into something that exists but is no namespace (CNI_NETNS=/etc/passwd): no delegate
   * could attach there, and its rollback could not clean up either. A path this process cannot see is
   * left to the delegates (they run where the runtime's paths are).
   */
  private async refuseNonNamespace(netns: string): Promise<void> {
    if (await this.netnsAlive(netns)) return;
    if (await this.deps.fs.stat(netns).catch(() => undefined)) {
      throw new CniError(
        CniErrorCode.invalidEnvironment,
        `CNI_NETNS ${JSON.stringify(netns)} is not a network namespace`,
      );
    }
  }
}

/** One allocated device of a claim (a claim shared by pods: the same key in each pod's record). */
function claimDeviceKey(c: ClaimDeviceRef): string {
  return [c.uid, c.request, c.pool, c.device, c.shareID ?? ''].join('/');
}
