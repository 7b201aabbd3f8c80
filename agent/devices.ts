/**
 * The agent's side of device networks (lib/devices.ts has the rules): at ADD, one question to the
 * kubelet per pod (pod-resources List) for the pod's devices, only when one of its networks has a
 * resourceName; each such attachment gets its device injected into its config and runtimeConfig
 * (deviceID, CNIDeviceInfoFile), and the attachment record keeps the device, so DEL and CHECK use the
 * same one even after the kubelet released it or the agent restarted. Around the delegate: the device
 * plugin's device-info file is copied to the attachment's CNIDeviceInfoFile before its ADD, read back
 * after it (for network-status), and removed after its DEL.
 */
import { dirname } from 'node:path';
import type { Logger } from 'winston';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import {
  assignDevices,
  cniDeviceInfoFile,
  devicePluginInfoFile,
  injectDeviceId,
  parseDeviceInfo,
  type PodDevices,
} from '../lib/devices.ts';
import { networkConfigFrom } from '../lib/cni/config.ts';
import { errorMessage } from '../lib/errors.ts';
import type { DeviceInfo } from '../lib/network-status.ts';
import type { FileSystem } from '../lib/ports.ts';
import type { AttachedDevice } from './attachment-cache.ts';
import type { PodRef } from './network-source.ts';
import type { PlannedAttachment } from './resolve.ts';

/** Where the agent learns the devices the kubelet allocated to a pod (the kubelet's pod-resources API). */
export interface PodDeviceSource {
  devicesOf(pod: { readonly namespace: string; readonly name: string }): Promise<PodDevices>;
}

export interface DeviceAttacherDeps {
  /** Undefined when the agent was given no pod-resources socket. */
  readonly source: PodDeviceSource | undefined;
  readonly fs: FileSystem;
  /** The Device Information Spec's root (dp/ and cni/ below it). */
  readonly infoDir: string;
  readonly log: Logger;
}

export class DeviceAttacher {
  private readonly deps: DeviceAttacherDeps;

  constructor(deps: DeviceAttacherDeps) {
    this.deps = deps;
  }

  /**
   * The attachments with their devices: unchanged when none has a resourceName (no question to the
   * kubelet); otherwise one List for the pod, and each device network's config and runtimeConfig
   * carry its device; devices `inUse` by the pod's other attachments are not handed out again.
   */
  async assign(
    attachments: readonly PlannedAttachment[],
    pod: PodRef | undefined,
    containerId: string,
    inUse: readonly string[] = [],
  ): Promise<readonly PlannedAttachment[]> {
    const needs = attachments.map((a) =>
      a.resourceName ? { label: a.network.name, resourceName: a.resourceName } : undefined,
    );
    const first = needs.find((n) => n !== undefined);
    if (!first) return attachments;
    const who = pod ? `pod ${pod.namespace}/${pod.name}` : 'this container';
    if (!pod) {
      throw new CniError(
        CniErrorCode.invalidConfig,
        `${first.label} needs a device of resource "${first.resourceName}", but the runtime did not name the pod (K8S_POD_NAMESPACE, K8S_POD_NAME in CNI_ARGS), so the kubelet cannot be asked for its devices`,
      );
    }
    const source = this.deps.source;
    if (!source) {
      throw new CniError(
        CniErrorCode.invalidConfig,
        `${who}: ${first.label} needs a device of resource "${first.resourceName}", but the agent has no pod-resources socket to ask the kubelet (--pod-resources-socket)`,
      );
    }
    let devices: PodDevices;
    try {
      devices = await source.devicesOf(pod);
    } catch (err) {
      throw new CniError(
        CniErrorCode.tryAgainLater,
        `${who}: cannot learn the devices the kubelet allocated to the pod for ${first.label} (resource "${first.resourceName}"): ${errorMessage(err)}`,
      );
    }
    // Devices the pod's other attachments hold already (hot-plug adds to a running pod) are not free.
    const free = new Map(
      [...devices].map(([resource, ids]) => [resource, ids.filter((id) => !inUse.includes(id))]),
    );
    const ids = assignDevices(needs, free, who);
    return attachments.map((attachment, i) => {
      const deviceId = ids[i];
      if (deviceId === undefined) return attachment;
      const infoFile = cniDeviceInfoFile(
        this.deps.infoDir,
        attachment.network.name,
        containerId,
        attachment.ifName,
      );
      const raw = injectDeviceId(attachment.network.config.raw, deviceId);
      return {
        ...attachment,
        network: { name: attachment.network.name, config: networkConfigFrom(raw) },
        runtimeConfig: { ...attachment.runtimeConfig, deviceID: deviceId, CNIDeviceInfoFile: infoFile },
        device: { resourceName: attachment.resourceName!, deviceId, infoFile },
      };
    });
  }

  /**
   * Before the delegate's ADD: the device plugin's device-info file for the device, copied to the
   * attachment's CNIDeviceInfoFile (atomically; a stale file of an earlier attempt is replaced). A
   * device plugin that writes none is not an error: the delegate may write the file itself.
   */
  async prepare(device: AttachedDevice): Promise<void> {
    const { fs, infoDir } = this.deps;
    let text: string;
    try {
      text = await fs.readFile(devicePluginInfoFile(infoDir, device.resourceName, device.deviceId));
    } catch {
      return;
    }
    await fs.mkdir(dirname(device.infoFile), 0o755);
    await fs.writeFileAtomic(device.infoFile, text, 0o444, { fsync: false });
  }

  /** After the delegate's ADD: the attachment's device-info (from the device plugin or the delegate). */
  async info(device: AttachedDevice): Promise<DeviceInfo | undefined> {
    let text: string;
    try {
      text = await this.deps.fs.readFile(device.infoFile);
    } catch {
      return undefined;
    }
    const info = parseDeviceInfo(text);
    if (!info) {
      this.deps.log.warn('ignoring a device-info file that is not a Device Information map', {
        file: device.infoFile,
      });
    }
    return info;
  }

  /** After the delegate's DEL: the attachment's device-info file goes (the Device Information Spec's rule). */
  async release(device: AttachedDevice | undefined): Promise<void> {
    if (!device) return;
    await this.deps.fs.remove(device.infoFile).catch((err: unknown) =>
      this.deps.log.warn('could not remove a device-info file', {
        file: device.infoFile,
        error: errorMessage(err),
      }),
    );
  }
}
