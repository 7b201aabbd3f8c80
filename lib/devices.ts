/**
 * Device networks (SR-IOV VFs and the like), as Multus attaches them: a NAD annotated
 * `k8s.v1.cni.cncf.io/resourceName` takes its device from those the kubelet allocated to the pod
 * (pod-resources API); the n-th attachment of a resource, in the pod's attach order, gets the n-th of
 * the pod's devices of that resource in sorted order; the device ID goes into the delegate's config
 * as `deviceID` and `pciBusID` (at the top of a single config, into every plugin of a list), into
 * `runtimeConfig.deviceID` of plugins with that capability, and the Device Information Spec's files
 * carry what the device plugin knows about it (see deviceInfo* below). One source of these rules for
 * the agent (which attaches), the webhook (which counts what a pod must request) and the controller.
 */
import { join } from 'node:path';
import { CniError, CniErrorCode } from './cni/error.ts';
import type { DeviceInfo } from './network-status.ts';
import { isObject, type JsonObject } from './safe-json.ts';

/** A pod's devices: resource name -> device IDs, each list without repeats and sorted. */
export type PodDevices = ReadonlyMap<string, readonly string[]>;

/** Sorts each resource's device IDs (Multus' SortDeviceIDs: by bytes) and drops repeats. */
export function sortedDevices(found: ReadonlyMap<string, readonly string[]>): PodDevices {
  const out = new Map<string, readonly string[]>();
  for (const [resource, ids] of found) {
    // Code-unit order, which is byte order for the ASCII that device IDs are.
    out.set(resource, [...new Set(ids)].sort());
  }
  return out;
}

/**
 * The delegate's config with the device injected as Multus injects it: `deviceID` and `pciBusID`
 * (both the device ID) at the top of a single config, or into every plugin of a list (the list's own
 * keys stay as they are). Returns a new object; the input is not changed.
 */
export function injectDeviceId(raw: JsonObject, deviceId: string): JsonObject {
  const device = { deviceID: deviceId, pciBusID: deviceId };
  if (!Array.isArray(raw.plugins)) return { ...raw, ...device };
  return { ...raw, plugins: raw.plugins.map((p) => (isObject(p) ? { ...p, ...device } : p)) };
}

/** The Device Information Spec's root on a node. */
export const defaultDeviceInfoDir = '/var/run/k8s.cni.cncf.io/devinfo';

/** The device plugin's file for one device: <dir>/dp/<resource>-<device>-device.json, '/' as '-'. */
export function devicePluginInfoFile(dir: string, resourceName: string, deviceId: string): string {
  return join(dir, 'dp', `${resourceName.replaceAll('/', '-')}-${deviceId.replaceAll('/', '-')}-device.json`);
}

/**
 * The file of one attachment handed to the delegate as `CNIDeviceInfoFile`:
 * <dir>/cni/<network>-<containerId>_<ifName>, '/' as '-' (Multus' name, so tools that look for it
 * find it where Multus would put it: "default/sriov-net" becomes "default-sriov-net-<id>_net1").
 */
export function cniDeviceInfoFile(dir: string, network: string, containerId: string, ifName: string): string {
  return join(dir, 'cni', `${network}-${containerId}_${ifName}`.replaceAll('/', '-'));
}

/** A device-info file's content, when it is a Device Information map (an object with a string type). */
export function parseDeviceInfo(text: string): DeviceInfo | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) && typeof parsed.type === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** One attachment that needs a device: how messages name it, and its NAD's resource. */
export interface DeviceNeed {
  readonly label: string;
  readonly resourceName: string;
}

/**
 * The device of each attachment that needs one (undefined for the others), in order: the n-th
 * attachment of a resource gets the n-th of the pod's devices of it. Throws a CniError naming the
 * network, the resource and what the pod was allocated when the pod has fewer devices than
 * attachments of a resource.
 */
export function assignDevices(
  needs: ReadonlyArray<DeviceNeed | undefined>,
  devices: PodDevices,
  who: string,
): Array<string | undefined> {
  const used = new Map<string, number>();
  return needs.map((need) => {
    if (!need) return undefined;
    const index = used.get(need.resourceName) ?? 0;
    used.set(need.resourceName, index + 1);
    const ids = devices.get(need.resourceName) ?? [];
    const id = ids[index];
    if (id !== undefined) return id;
    const wanting = devicesNeeded(needs).get(need.resourceName)!;
    throw new CniError(
      CniErrorCode.invalidConfig,
      `${who}: ${need.label} needs a device of resource "${need.resourceName}", but ${shortage(need.resourceName, ids, wanting.length)}: ${wanting.join(', ')}; the pod must request "${need.resourceName}": ${wanting.length} in a container's resources (the multinet webhook adds it with webhook.injectResources)`,
    );
  });
}

function shortage(resource: string, ids: readonly string[], wanted: number): string {
  const allocated =
    ids.length === 0
      ? `the pod requested no "${resource}" (the kubelet allocated it none)`
      : `the pod requested ${ids.length} "${resource}" (the kubelet allocated ${ids.join(', ')})`;
  return `${allocated} and ${wanted} of its networks need one each`;
}

const siSuffix: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A whole-number quantity ("2", "1k", 3), as extended resources must be; undefined for anything else. */
export function wholeQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\+?(\d+)(k|M|G|T|P|E)?$/.exec(value.trim());
  return match ? Number(match[1]) * siSuffix[match[2] ?? '']! : undefined;
}

/**
 * What a pod requests of each extended resource: the sum over its containers and sidecar init
 * containers (restartPolicy Always) of each one's request, or its limit when it sets no request (the
 * API server defaults a request to the limit). These are the containers whose devices the kubelet's
 * pod-resources API lists while the pod runs.
 */
export function podResourceRequests(pod: unknown): Map<string, number> {
  const totals = new Map<string, number>();
  const spec = isObject(pod) && isObject(pod.spec) ? pod.spec : {};
  const containers = [
    ...(Array.isArray(spec.containers) ? spec.containers : []),
    ...(Array.isArray(spec.initContainers)
      ? spec.initContainers.filter((c) => isObject(c) && c.restartPolicy === 'Always')
      : []),
  ];
  for (const container of containers) {
    const resources = isObject(container) && isObject(container.resources) ? container.resources : {};
    const requests = isObject(resources.requests) ? resources.requests : {};
    const limits = isObject(resources.limits) ? resources.limits : {};
    for (const name of new Set([...Object.keys(requests), ...Object.keys(limits)])) {
      const count = wholeQuantity(requests[name] ?? limits[name]);
      if (count !== undefined) totals.set(name, (totals.get(name) ?? 0) + count);
    }
  }
  return totals;
}

/** The networks that need a device, by resource, in attach order (their labels). */
export function devicesNeeded(networks: ReadonlyArray<DeviceNeed | undefined>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const need of networks) {
    if (!need) continue;
    const labels = out.get(need.resourceName);
    if (labels) labels.push(need.label);
    else out.set(need.resourceName, [need.label]);
  }
  return out;
}
