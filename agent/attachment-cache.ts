/**
 * The on-disk record of what ADD attached to a container, written atomically before each delegate
 * runs and after it succeeds, so DEL and CHECK work after an agent restart (and after a crash in the
 * middle of an ADD: the delegate that was running is recorded and gets its DEL).
 *
 * Records are renamed into place without fsync (as libcni's own result cache): a record is complete
 * and in place before the delegate runs, for any process that looks, also after the agent is killed.
 * A power loss may lose the latest records, but it also loses every pod network namespace; the
 * runtime's DEL for such a sandbox then cleans up from the pod's networks (best effort, see DEL).
 * An fsync here would cost more than the delegates (10 ms each on this machine's disk).
 */
import { join } from 'node:path';
import { interfaceNameError } from '../lib/annotations/interface-name.ts';
import { attachmentCacheFile, containerIdError } from '../lib/cni/request.ts';
import type { ClaimDeviceRef } from '../lib/dra.ts';
import { errorMessage } from '../lib/errors.ts';
import type { FileSystem } from '../lib/ports.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import type { PodRef } from './network-source.ts';

/** The device a device network's attachment was given (lib/devices.ts), kept so DEL uses the same one. */
export interface AttachedDevice {
  readonly resourceName: string;
  readonly deviceId: string;
  /** The attachment's CNIDeviceInfoFile (the Device Information Spec's per-attachment file). */
  readonly infoFile: string;
}

export interface AttachmentRecord {
  /** namespace/name of the NAD, or the network name of a config file. */
  readonly name: string;
  readonly ifName: string;
  readonly isDefault: boolean;
  /** The network configuration as it was used, so DEL does not depend on the NAD still existing. */
  readonly config: JsonObject;
  readonly runtimeConfig?: JsonObject;
  readonly cniArgs?: JsonObject;
  /** The device it was given (its config and runtimeConfig above already carry it). */
  readonly device?: AttachedDevice;
  /** The delegate's result; absent while its ADD is running. */
  readonly result?: JsonObject;
  /**
   * Selected by the pod's networks annotation (not the default network nor the cluster's default
   * networks): what hot-plug may add and remove. Records written before it existed lack it.
   */
  readonly selected?: true;
  /** The ResourceClaim device it comes from: its status is the agent's to write, hot-plug leaves it alone. */
  readonly claim?: ClaimDeviceRef;
}

export interface CacheRecord {
  readonly version: 1;
  readonly containerId: string;
  readonly runtimeIfName: string;
  readonly netns: string;
  readonly pod: PodRef | undefined;
  /** The cniVersion the runtime asked in. */
  readonly cniVersion: string;
  /** The sandbox ADD's CNI_ARGS (K8S_POD_NAME, ...): delegates attached later (hot-plug) get them too. */
  readonly args?: Readonly<Record<string, string>>;
  readonly attachments: readonly AttachmentRecord[];
  /** True once every delegate succeeded. */
  readonly complete: boolean;
}

export class AttachmentCache {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly stateDir: string;

  constructor(fs: FileSystem, stateDir: string) {
    this.fs = fs;
    this.dir = join(stateDir, 'attachments');
    this.stateDir = stateDir;
  }

  /** Creates the dir; removes the temp files of writes an agent killed meanwhile did not finish. */
  async init(): Promise<string[]> {
    await this.fs.mkdir(this.dir, 0o700);
    return this.fs.removeTempFiles(this.dir);
  }

  private path(containerId: string, ifName: string): string {
    // Both were checked when the request was parsed; checked again since they become a file name.
    if (containerIdError(containerId) || interfaceNameError(ifName)) throw new Error('invalid cache key');
    return attachmentCacheFile(this.stateDir, containerId, ifName);
  }

  async read(containerId: string, ifName: string): Promise<CacheRecord | undefined> {
    return this.readFile(this.path(containerId, ifName));
  }

  private async readFile(path: string): Promise<CacheRecord | undefined> {
    let text: string;
    try {
      text = await this.fs.readFile(path);
    } catch {
      return undefined;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (isObject(parsed) && parsed.version === 1 && Array.isArray(parsed.attachments))
        return parsed as unknown as CacheRecord;
    } catch (err) {
      throw new Error(`attachment cache ${path} is corrupt: ${errorMessage(err)}`, { cause: err });
    }
    return undefined;
  }

  async write(record: CacheRecord): Promise<void> {
    await this.fs.writeFileAtomic(
      this.path(record.containerId, record.runtimeIfName),
      `${JSON.stringify(record)}\n`,
      0o600,
      { fsync: false },
    );
  }

  async remove(containerId: string, ifName: string): Promise<void> {
    await this.fs.remove(this.path(containerId, ifName));
  }

  /** Every readable cached record (for GC). */
  async list(): Promise<CacheRecord[]> {
    const out: CacheRecord[] = [];
    for (const name of await this.fs.list(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const record = await this.readFile(join(this.dir, name)).catch(() => undefined);
      if (record) out.push(record);
    }
    return out;
  }
}
