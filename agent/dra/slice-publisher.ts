/**
 * Keeps this node's ResourceSlices of the driver networks.multinet.io equal to the networks the node
 * can use (lib/dra.ts decides the devices and the layout): one device per NAD that is usable here, in
 * the node's pool, as few writes as the change takes, and none at rest. It syncs when the usable
 * networks change, and when a slice changes that it did not write (the kubelet deletes a node's slices
 * when it starts, and a driver's after its plugin went away; someone may edit or delete one): the watch
 * tells it (observed()), it lists the node's slices again and writes what differs. A failed sync is
 * tried again with backoff.
 */
import type { Logger } from 'winston';
import { Backoff } from '../../lib/backoff.ts';
import {
  draDriver,
  networkDevice,
  planSlices,
  resourceSlicesPath,
  type NetworkDevice,
  type ResourceSlice,
  type UsableNetwork,
} from '../../lib/dra.ts';
import { errorMessage } from '../../lib/errors.ts';
import { isNotFound, type KubeRequester } from '../../platform/kube/rest.ts';

export interface SlicePublisherOptions {
  readonly client: KubeRequester;
  readonly nodeName: string;
  readonly log: Logger;
  /** How long a change waits for more before the sync (default 200 ms). */
  readonly debounceMs?: number;
}

/** The field selector of this node's slices of this driver. */
export function nodeSliceSelector(nodeName: string): string {
  return `spec.nodeName=${nodeName},spec.driver=${draDriver}`;
}

export class SlicePublisher {
  private readonly options: SlicePublisherOptions;
  private desired: readonly NetworkDevice[] | undefined;
  private desiredKey = '';
  private syncedKey: string | undefined;
  /** resourceVersions of what this publisher wrote last, by slice name (deleted: ''). */
  private readonly written = new Map<string, string>();
  private nodeUid: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly backoff = new Backoff({ baseMs: 1000, maxMs: 60_000 });
  private stopped = false;
  private busy = false;
  private readonly idleWaiters: Array<() => void> = [];
  /** API writes made (creates, updates, deletes), for metrics and tests. */
  writes = 0;
  /** NADs left out, and why (an attribute too long), for logs and tests. */
  skipped: ReadonlyArray<{ readonly network: string; readonly reason: string }> = [];

  constructor(options: SlicePublisherOptions) {
    this.options = options;
  }

  /** The networks usable on the node now: schedules a sync when they differ from the last ones. */
  publish(networks: readonly UsableNetwork[]): void {
    const devices: NetworkDevice[] = [];
    const skipped: Array<{ network: string; reason: string }> = [];
    for (const network of networks) {
      const device = networkDevice(network);
      if ('skipped' in device)
        skipped.push({ network: `${network.namespace}/${network.name}`, reason: device.skipped });
      else devices.push(device);
    }
    const key = JSON.stringify(devices.map((d) => [d.name, d.attributes]).sort());
    if (this.desired && key === this.desiredKey) return;
    if (skipped.length > 0 && JSON.stringify(skipped) !== JSON.stringify(this.skipped))
      this.options.log.warn('some networks are not offered as DRA devices', { skipped });
    this.skipped = skipped;
    this.desired = devices;
    this.desiredKey = key;
    this.schedule();
  }

  /** A slice of this node changed (the watch): syncs when this publisher did not write that version. */
  observed(slice: Pick<ResourceSlice, 'metadata'>, deleted: boolean): void {
    const mine = this.written.get(slice.metadata.name);
    if (deleted ? mine === '' : mine === slice.metadata.resourceVersion) return;
    this.syncedKey = undefined;
    this.schedule();
  }

  /** Resolves once no sync is scheduled or running (tests, and stop). */
  idle(): Promise<void> {
    if (!this.timer && !this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.busy) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private schedule(delayMs = this.options.debounceMs ?? 200): void {
    if (this.stopped || this.desired === undefined) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.busy = true;
      this.running = this.running
        .then(() => this.sync())
        .finally(() => {
          this.busy = false;
          if (!this.timer) for (const wake of this.idleWaiters.splice(0)) wake();
        });
    }, delayMs);
    this.timer.unref();
  }

  private async sync(): Promise<void> {
    const desired = this.desired;
    const key = this.desiredKey;
    if (this.stopped || !desired || key === this.syncedKey) return;
    try {
      await this.write(desired);
      this.syncedKey = key;
      this.backoff.reset();
    } catch (err) {
      const delay = this.backoff.next();
      this.options.log.warn('cannot publish the ResourceSlices of this node; trying again', {
        error: errorMessage(err),
        retryInSeconds: delay / 1000,
      });
      this.schedule(delay);
    }
  }

  private async write(desired: readonly NetworkDevice[]): Promise<void> {
    const { client, nodeName } = this.options;
    this.nodeUid ??= await client
      .request<{ metadata?: { uid?: string } }>({
        method: 'GET',
        path: `/api/v1/nodes/${encodeURIComponent(nodeName)}`,
      })
      .then((node) => node.metadata?.uid)
      .catch(() => undefined);
    const listed = await client.request<{ items?: ResourceSlice[] }>({
      method: 'GET',
      path: resourceSlicesPath,
      query: { fieldSelector: nodeSliceSelector(nodeName) },
    });
    const plan = planSlices(listed.items ?? [], desired, { nodeName, nodeUid: this.nodeUid });
    for (const slice of plan.remove) {
      this.written.set(slice.metadata.name, '');
      this.writes++;
      await client
        .request({
          method: 'DELETE',
          path: `${resourceSlicesPath}/${encodeURIComponent(slice.metadata.name)}`,
          ignoreResponse: true,
        })
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
    for (const slice of plan.update) {
      this.writes++;
      const stored = await client.request<ResourceSlice>({
        method: 'PUT',
        path: `${resourceSlicesPath}/${encodeURIComponent(slice.metadata.name)}`,
        body: slice,
      });
      this.written.set(slice.metadata.name, stored.metadata.resourceVersion ?? '');
    }
    for (const slice of plan.create) {
      this.writes++;
      const stored = await client.request<ResourceSlice>({
        method: 'POST',
        path: resourceSlicesPath,
        body: slice,
      });
      this.written.set(slice.metadata.name, stored.metadata.resourceVersion ?? '');
    }
    const changes = plan.remove.length + plan.update.length + plan.create.length;
    if (changes > 0) {
      this.options.log.info('published the networks of this node as DRA devices', {
        devices: desired.length,
        slices: plan.update.length + plan.create.length,
        created: plan.create.length,
        updated: plan.update.length,
        deleted: plan.remove.length,
      });
    }
  }
}
