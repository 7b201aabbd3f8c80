/**
 * The claims the kubelet prepared on this node (NodePrepareResources), one file per claim under
 * <state-dir>/claims (written atomically; removed at NodeUnprepareResources): which of the claim's
 * devices are networks, which NAD each is, and what its opaque config asks for. A pod's sandbox ADD
 * reads them (its pod names its claims), so the attach needs no API call and works after an agent
 * restart; the kubelet never prepares a claim after the sandbox it is for was created.
 */
import { join } from 'node:path';
import type { Logger } from 'winston';
import type { ClaimDevice, ClaimDeviceRef } from '../../lib/dra.ts';
import { errorMessage } from '../../lib/errors.ts';
import { splitNetworkKey } from '../../lib/node-state.ts';
import type { ClaimedNetwork } from '../../lib/pod-networks.ts';
import type { FileSystem } from '../../lib/ports.ts';
import { isObject } from '../../lib/safe-json.ts';
import type { PodInfo } from '../network-source.ts';

/** A prepared claim: its identity and its network devices, each with its NAD ("namespace/name"). */
export interface PreparedClaim {
  readonly version: 1;
  readonly claim: { readonly namespace: string; readonly name: string; readonly uid: string };
  readonly devices: ReadonlyArray<ClaimDevice & { readonly network: string }>;
}

const uidPattern = /^[A-Za-z0-9-]{1,64}$/;

export class ClaimStore {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly log: Logger;
  private readonly byUid = new Map<string, PreparedClaim>();

  constructor(fs: FileSystem, stateDir: string, log: Logger) {
    this.fs = fs;
    this.dir = join(stateDir, 'claims');
    this.log = log;
  }

  /** Reads what earlier runs prepared; removes the temp files of writes a killed agent did not finish. */
  async load(): Promise<number> {
    await this.fs.mkdir(this.dir, 0o700);
    await this.fs.removeTempFiles(this.dir);
    for (const file of await this.fs.list(this.dir)) {
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      try {
        const parsed: unknown = JSON.parse(await this.fs.readFile(join(this.dir, file)));
        if (
          isObject(parsed) &&
          parsed.version === 1 &&
          isObject(parsed.claim) &&
          Array.isArray(parsed.devices)
        ) {
          const record = parsed as unknown as PreparedClaim;
          this.byUid.set(record.claim.uid, record);
        }
      } catch (err) {
        this.log.warn('ignoring an unreadable prepared claim', { file, error: errorMessage(err) });
      }
    }
    return this.byUid.size;
  }

  private path(uid: string): string {
    if (!uidPattern.test(uid)) throw new Error(`invalid claim UID ${JSON.stringify(uid)}`);
    return join(this.dir, `${uid}.json`);
  }

  async save(record: PreparedClaim): Promise<void> {
    await this.fs.writeFileAtomic(this.path(record.claim.uid), `${JSON.stringify(record)}\n`, 0o600, {
      fsync: false,
    });
    this.byUid.set(record.claim.uid, record);
  }

  /** Forgets a claim (unprepared); true when it was prepared here. */
  async remove(uid: string): Promise<boolean> {
    const known = this.byUid.delete(uid);
    await this.fs.remove(this.path(uid));
    return known;
  }

  get(uid: string): PreparedClaim | undefined {
    return this.byUid.get(uid);
  }

  /** The prepared claim of that name in that namespace (the newest, should two UIDs share it). */
  private byName(namespace: string, name: string): PreparedClaim | undefined {
    let found: PreparedClaim | undefined;
    for (const record of this.byUid.values())
      if (record.claim.namespace === namespace && record.claim.name === name) found = record;
    return found;
  }

  /**
   * The networks the pod's claims give it, in the order of its claims and of each claim's devices: a
   * claim that is not prepared here has no network device (the kubelet prepares every claim of a pod
   * before its sandbox exists).
   */
  networksOf(pod: PodInfo): ClaimedNetwork[] {
    const networks: ClaimedNetwork[] = [];
    for (const claimName of pod.resourceClaims ?? []) {
      const record = this.byName(pod.namespace, claimName);
      if (!record) continue;
      for (const device of record.devices) {
        const { namespace, name } = splitNetworkKey(device.network);
        const claim: ClaimDeviceRef = {
          ...record.claim,
          request: device.request,
          pool: device.pool,
          device: device.device,
          ...(device.shareID ? { shareID: device.shareID } : {}),
        };
        networks.push({
          label: `resourceClaims "${claimName}" request "${device.request}"`,
          element: { ...device.parameters, name, namespace },
          claim,
        });
      }
    }
    return networks;
  }
}
