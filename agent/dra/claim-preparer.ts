/**
 * The kubelet plugin's answers (NodePrepareResources, NodeUnprepareResources) for the driver
 * networks.multinet.io. Preparing a claim reads it from the API server (the kubelet names it by
 * namespace, name and UID), takes the devices of this driver from its allocation (lib/dra.ts
 * claimDevices: each with the merged opaque config of its request, checked as a network selection
 * element), tells which NAD each device is, and records the claim on disk (claim-store.ts) for the
 * pod's sandbox ADD. A claim that cannot be prepared (gone, another UID, a bad config, a device that
 * is no network of this node) gets an error the kubelet shows on the pod and asks again about later.
 * Unpreparing forgets the claim: the sandbox's DEL before it detached what the claim gave.
 */
import type { Logger } from 'winston';
import { claimDevices, deviceName, resourceClaimPath } from '../../lib/dra.ts';
import { errorMessage, formatProblems, ValidationError } from '../../lib/errors.ts';
import { networkKey } from '../../lib/node-state.ts';
import type { KubeRequester } from '../../platform/kube/rest.ts';
import type { DraClaim, DraPluginHandlers, PrepareOutcome } from '../../platform/kubelet/dra-plugin.ts';
import type { ClaimStore, PreparedClaim } from './claim-store.ts';

export interface ClaimPreparerOptions {
  readonly client: KubeRequester;
  readonly nodeName: string;
  readonly store: ClaimStore;
  /** The NADs the agent holds: which one an allocated device is (its name is lib/dra.ts deviceName). */
  readonly networks: () => ReadonlyArray<{ readonly namespace: string; readonly name: string }>;
  readonly log: Logger;
}

export class ClaimPreparer implements Pick<DraPluginHandlers, 'prepare' | 'unprepare'> {
  private readonly options: ClaimPreparerOptions;

  constructor(options: ClaimPreparerOptions) {
    this.options = options;
  }

  async prepare(claims: readonly DraClaim[]): Promise<ReadonlyMap<string, PrepareOutcome>> {
    const outcomes = new Map<string, PrepareOutcome>();
    for (const claim of claims) {
      try {
        outcomes.set(claim.uid, await this.prepareOne(claim));
      } catch (err) {
        outcomes.set(claim.uid, {
          error: `ResourceClaim ${claim.namespace}/${claim.name}: ${errorMessage(err)}`,
        });
      }
    }
    return outcomes;
  }

  async unprepare(claims: readonly DraClaim[]): Promise<ReadonlyMap<string, string | undefined>> {
    const outcomes = new Map<string, string | undefined>();
    for (const claim of claims) {
      try {
        await this.options.store.remove(claim.uid);
        outcomes.set(claim.uid, undefined);
      } catch (err) {
        outcomes.set(claim.uid, `ResourceClaim ${claim.namespace}/${claim.name}: ${errorMessage(err)}`);
      }
    }
    return outcomes;
  }

  private networkOfDevice(device: string): string | undefined {
    for (const { namespace, name } of this.options.networks())
      if (deviceName(namespace, name) === device) return networkKey(namespace, name);
    return undefined;
  }

  private async prepareOne(claim: DraClaim): Promise<PrepareOutcome> {
    const { client, nodeName, store, log } = this.options;
    const who = `ResourceClaim ${claim.namespace}/${claim.name}`;
    let object: { metadata?: { uid?: string } };
    try {
      object = await client.request({ method: 'GET', path: resourceClaimPath(claim.namespace, claim.name) });
    } catch (err) {
      return { error: `${who}: cannot read it: ${errorMessage(err)}` };
    }
    if (object.metadata?.uid !== claim.uid) {
      return {
        error: `${who}: UID ${claim.uid} no longer exists (the API has ${object.metadata?.uid ?? 'none'})`,
      };
    }
    let devices;
    try {
      devices = claimDevices(object);
    } catch (err) {
      if (err instanceof ValidationError) return { error: `${who}: ${formatProblems(err.problems)}` };
      throw err;
    }
    const recorded: Array<PreparedClaim['devices'][number]> = [];
    for (const device of devices) {
      const network = device.pool === nodeName ? this.networkOfDevice(device.device) : undefined;
      if (!network) {
        return {
          error: `${who}: device ${device.pool}/${device.device} is not a network of node ${nodeName} (its NetworkAttachmentDefinition was deleted?)`,
        };
      }
      recorded.push({ ...device, network });
    }
    await store.save({ version: 1, claim, devices: recorded });
    if (recorded.length > 0) {
      log.info('prepared a ResourceClaim', {
        claim: `${claim.namespace}/${claim.name}`,
        networks: recorded.map((d) => d.network),
      });
    }
    return {
      devices: recorded.map((d) => ({
        requestNames: [d.request],
        poolName: d.pool,
        deviceName: d.device,
        ...(d.shareID ? { shareId: d.shareID } : {}),
      })),
    };
  }
}
