/**
 * NADs as Dynamic Resource Allocation devices (resource.k8s.io/v1, driver `networks.multinet.io`): the
 * one source of truth for what the agent publishes (a device per NAD usable on the node, in
 * ResourceSlices of the node's pool), what a ResourceClaim's opaque config may say (the network
 * selection element's fields, the same schema and messages as the annotation), which of a claim's
 * allocated devices are this driver's, and the status entries (KEP-4817 networkData) the agent writes.
 * The agent, the webhook and the tests call these functions; nothing here does I/O.
 *
 * A NAD must be attachable by many pods of a node at once: each device allows multiple allocations
 * (KEP-5075, consumable capacity), so every claim that gets it gets a share of its own (a shareID).
 */
import { createHash } from 'node:crypto';
import { parseSelectionElement, type NetworkSelectionElement } from './annotations/networks.ts';
import { hostInterfaces, type NetworkConfig } from './cni/config.ts';
import type { CniResult } from './cni/result.ts';
import { ProblemList, ValidationError, type Problem } from './errors.ts';
import { childPath } from './json-path.ts';
import { pluginTypeOf } from './nad.ts';
import { resultInterfaces } from './network-status.ts';
import { isObject, type JsonObject } from './safe-json.ts';

/** The DRA driver's name: device classes, slices, claim configs and status entries carry it. */
export const draDriver = 'networks.multinet.io';
export const resourceApiVersion = 'resource.k8s.io/v1';
export const resourceSlicesPath = '/apis/resource.k8s.io/v1/resourceslices';

export function resourceClaimPath(namespace: string, name: string): string {
  return `/apis/resource.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/resourceclaims/${encodeURIComponent(name)}`;
}

/** resource.k8s.io/v1: at most 128 devices in one ResourceSlice (ResourceSliceMaxDevices). */
export const maxDevicesPerSlice = 128;
/** resource.k8s.io/v1: a string attribute's value is at most 64 characters. */
const maxAttributeValue = 64;

/** The attributes of a network device (CEL: device.attributes["networks.multinet.io"].nad). */
export const deviceAttributes = {
  /** "namespace/name" of the NAD: what a claim's selector names. */
  nad: `${draDriver}/nad`,
  namespace: `${draDriver}/namespace`,
  name: `${draDriver}/name`,
  /** The plugin types of the NAD's config, joined by "+" (as NAD status.pluginType). */
  type: `${draDriver}/type`,
  /** The host interface(s) the config attaches to (macvlan/ipvlan/vlan master, host-device device). */
  master: `${draDriver}/master`,
  /**
   * The device plugin resource the NAD's attachments take a device of, where it names one (its
   * k8s.v1.cni.cncf.io/resourceName annotation; an attribute's domain cannot hold "v1.").
   */
  resourceName: 'k8s.cni.cncf.io/resourceName',
} as const;

export interface StringAttribute {
  readonly string: string;
}

/** One device of a ResourceSlice, as this driver writes it. */
export interface NetworkDevice {
  readonly name: string;
  readonly attributes: Readonly<Record<string, StringAttribute>>;
  readonly allowMultipleAllocations: true;
}

/** What a device is made from: a NAD the node can use. */
export interface UsableNetwork {
  readonly namespace: string;
  readonly name: string;
  /** spec.config as stored ("" when the node's config file of the NAD's name is used). */
  readonly configText: string;
  /** The config the node attaches with (the NAD's, or the node's file of its name). */
  readonly config: NetworkConfig;
  readonly resourceName?: string | undefined;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * The device of NAD namespace/name: a DNS label (a device name) that reads as the NAD, made unique by
 * a hash of "namespace/name" (NAD names may hold dots, and "a-b"/"c" must not meet "a"/"b-c").
 */
export function deviceName(namespace: string, name: string): string {
  const readable = `${namespace}-${name}`
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 54)
    .replace(/-+$/, '');
  return `${readable}-${shortHash(`${namespace}/${name}`)}`;
}

/**
 * The device for a usable NAD, or why it cannot be one (an attribute's value over 64 characters:
 * "namespace/name" of a NAD with a long name cannot be selected, so it is not offered).
 */
export function networkDevice(network: UsableNetwork): NetworkDevice | { readonly skipped: string } {
  const key = `${network.namespace}/${network.name}`;
  if (key.length > maxAttributeValue) {
    return {
      skipped: `"${key}" is longer than ${maxAttributeValue} characters, the most a device attribute holds`,
    };
  }
  const entries: Array<[string, string]> = [
    [deviceAttributes.nad, key],
    [deviceAttributes.namespace, network.namespace],
    [deviceAttributes.name, network.name],
    [deviceAttributes.type, pluginTypeOf(JSON.stringify(network.config.raw)).slice(0, maxAttributeValue)],
  ];
  const master = hostInterfaces(network.config).join(',');
  if (master) entries.push([deviceAttributes.master, master.slice(0, maxAttributeValue)]);
  if (network.resourceName) entries.push([deviceAttributes.resourceName, network.resourceName]);
  // Sorted as the API server returns a map, so a published device compares equal to its desired one.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    name: deviceName(network.namespace, network.name),
    attributes: Object.fromEntries(entries.map(([k, v]) => [k, { string: v }])),
    allowMultipleAllocations: true,
  };
}

/** A ResourceSlice of this driver (the fields it writes). */
export interface ResourceSlice {
  readonly apiVersion: typeof resourceApiVersion;
  readonly kind: 'ResourceSlice';
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: ReadonlyArray<Readonly<Record<string, unknown>>>;
  };
  readonly spec: {
    readonly driver: string;
    readonly nodeName: string;
    readonly pool: {
      readonly name: string;
      readonly generation: number;
      readonly resourceSliceCount: number;
    };
    readonly devices: readonly NetworkDevice[];
  };
}

/** The slice of the node's pool at `index`: `<node>-networks.multinet.io-<index>` (shortened past 253). */
export function sliceName(nodeName: string, index: number): string {
  const name = `${nodeName}-${draDriver}-${index}`;
  return name.length <= 253 ? name : `${nodeName.slice(0, 220)}-${shortHash(nodeName)}-${draDriver}-${index}`;
}

function sliceIndex(nodeName: string, name: string): number | undefined {
  for (const candidate of [
    `${nodeName}-${draDriver}-`,
    `${nodeName.slice(0, 220)}-${shortHash(nodeName)}-${draDriver}-`,
  ]) {
    if (!name.startsWith(candidate)) continue;
    const rest = name.slice(candidate.length);
    if (/^(0|[1-9][0-9]{0,5})$/.test(rest)) return Number(rest);
  }
  return undefined;
}

/** The devices as they compare: name, attributes and sharing, in a canonical order. */
function devicesKey(devices: readonly NetworkDevice[]): string {
  return JSON.stringify(
    devices.map((d) => [
      d.name,
      Object.entries(d.attributes ?? {})
        .map(([k, v]) => [k, v?.string])
        .sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)),
      d.allowMultipleAllocations === true,
    ]),
  );
}

export interface SlicePlan {
  /** Slices to delete first: of an older generation, not this driver's naming, or no longer needed. */
  readonly remove: readonly ResourceSlice[];
  /** Existing slices to write (with their resourceVersion), then new ones to create. */
  readonly update: readonly ResourceSlice[];
  readonly create: readonly ResourceSlice[];
}

export interface SlicePoolOptions {
  readonly nodeName: string;
  /** The Node's UID: the slices are owned by it, so they go when the Node does. */
  readonly nodeUid?: string | undefined;
  readonly maxDevices?: number;
}

/**
 * What to write so that the node's pool holds exactly `desired`, with as few writes as possible: a
 * device stays in the slice it is in; a new one goes into the first slice with room, or a new slice;
 * a slice left empty goes; slices are repacked only when more than one could be saved. When at most
 * one existing slice changes, it is updated in place (the pool's generation stays); otherwise every
 * slice is written at the next generation, so the scheduler never mixes two versions of the pool.
 */
export function planSlices(
  current: readonly ResourceSlice[],
  desired: readonly NetworkDevice[],
  options: SlicePoolOptions,
): SlicePlan {
  const { nodeName } = options;
  const max = options.maxDevices ?? maxDevicesPerSlice;
  const generation = Math.max(0, ...current.map((s) => s.spec.pool.generation));
  const remove: ResourceSlice[] = [];
  const existing = new Map<number, ResourceSlice>();
  for (const slice of current) {
    const index = sliceIndex(nodeName, slice.metadata.name);
    if (slice.spec.pool.generation !== generation || index === undefined || existing.has(index))
      remove.push(slice);
    else existing.set(index, slice);
  }
  const wanted = new Map(desired.map((d) => [d.name, d]));
  const byName = (a: NetworkDevice, b: NetworkDevice): number =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  let slots = new Map<number, NetworkDevice[]>();
  const placed = new Set<string>();
  for (const [index, slice] of [...existing].sort(([a], [b]) => a - b)) {
    const kept = slice.spec.devices.flatMap((d) => {
      const next = wanted.get(d.name);
      if (!next || placed.has(d.name)) return [];
      placed.add(d.name);
      return [next];
    });
    slots.set(index, kept.slice(0, max));
    for (const dropped of kept.slice(max)) placed.delete(dropped.name);
  }
  const fresh = desired.filter((d) => !placed.has(d.name)).sort(byName);
  // Slices the pool says it has but that are missing (deleted by someone) are made again first.
  const declared = Math.max(0, ...[...existing.values()].map((s) => s.spec.pool.resourceSliceCount));
  for (let index = 0; index < declared && fresh.length > 0; index++) {
    if (!slots.has(index)) slots.set(index, fresh.splice(0, max));
  }
  for (const device of fresh) {
    let slot = [...slots].sort(([a], [b]) => a - b).find(([, devices]) => devices.length < max)?.[1];
    if (!slot) {
      let index = 0;
      while (slots.has(index)) index++;
      slot = [];
      slots.set(index, slot);
    }
    slot.push(device);
  }
  for (const [index, devices] of [...slots]) if (devices.length === 0) slots.delete(index);
  const needed = Math.ceil(desired.length / max);
  if (slots.size > needed + 1) {
    const sorted = [...desired].sort(byName);
    slots = new Map(
      Array.from({ length: needed }, (_, i) => [i, sorted.slice(i * max, (i + 1) * max)] as const),
    );
  }
  for (const devices of slots.values()) devices.sort(byName);
  const count = slots.size;
  for (const [index, slice] of existing) if (!slots.has(index)) remove.push(slice);
  const changed = [...slots.keys()].filter((index) => {
    const slice = existing.get(index);
    return (
      !slice ||
      slice.spec.pool.resourceSliceCount !== count ||
      devicesKey(slice.spec.devices) !== devicesKey(slots.get(index)!)
    );
  });
  // A slice that comes or goes changes the count every other slice carries; two slices that change
  // cannot change at once. Either way the whole pool moves to the next generation. One slice written
  // (updated, or made again where it went missing) keeps it.
  const removesExisting = remove.some((s) => existing.get(sliceIndex(nodeName, s.metadata.name) ?? -1) === s);
  const bump = removesExisting || changed.length > 1;
  const nextGeneration = bump ? generation + 1 : Math.max(generation, 1);
  const make = (index: number, resourceVersion?: string): ResourceSlice => ({
    apiVersion: resourceApiVersion,
    kind: 'ResourceSlice',
    metadata: {
      name: sliceName(nodeName, index),
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'multinet-agent' },
      ...(options.nodeUid
        ? {
            ownerReferences: [
              { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: options.nodeUid, controller: true },
            ],
          }
        : {}),
    },
    spec: {
      driver: draDriver,
      nodeName,
      pool: { name: nodeName, generation: nextGeneration, resourceSliceCount: count },
      devices: slots.get(index)!,
    },
  });
  const toWrite = bump ? [...slots.keys()] : changed;
  return {
    remove,
    update: toWrite
      .filter((index) => existing.has(index))
      .sort((a, b) => a - b)
      .map((index) => make(index, existing.get(index)!.metadata.resourceVersion)),
    create: toWrite
      .filter((index) => !existing.has(index))
      .sort((a, b) => a - b)
      .map((index) => make(index)),
  };
}

/** What a claim's opaque config may set for its attachment: a selection element without name/namespace. */
export type ClaimParameters = Omit<NetworkSelectionElement, 'name' | 'namespace'>;

/**
 * A claim's opaque parameters for this driver, checked with the network selection element's schema
 * (problems named below `path`). The NAD is the device the claim is allocated, so name and namespace
 * may not be given. Throws a ValidationError.
 */
export function claimParameters(value: unknown, path: string): ClaimParameters {
  if (value === undefined || value === null) return {};
  if (!isObject(value))
    throw ValidationError.single(
      path,
      'must be an object of network selection fields, e.g. {"interface":"net-a","ips":["192.0.2.10/24"]}',
    );
  const problems = new ProblemList();
  for (const key of ['name', 'namespace'] as const) {
    if (key in value)
      problems.add(
        childPath(path, key),
        "is not set in a claim: the NAD is the device the claim is allocated (select it in the request's selectors)",
      );
  }
  const { name: _n, namespace: _ns, ...given } = value;
  let rest: ClaimParameters = {};
  try {
    const {
      name: _name,
      namespace: _namespace,
      ...parsed
    } = parseSelectionElement({ ...given, name: 'placeholder' }, path, 'default');
    rest = parsed;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    for (const problem of err.problems) problems.add(problem.path, problem.message);
  }
  problems.throwIfAny();
  return rest;
}

/** The problems of every opaque config of this driver in a claim spec (`root`: spec, or spec.spec of a template). */
export function claimSpecProblems(spec: unknown, root: string): Problem[] {
  const devices = isObject(spec) && isObject(spec.devices) ? spec.devices : undefined;
  const configs = devices && Array.isArray(devices.config) ? devices.config : [];
  const problems: Problem[] = [];
  configs.forEach((config, index) => {
    if (!isObject(config) || !isObject(config.opaque) || config.opaque.driver !== draDriver) return;
    try {
      claimParameters(config.opaque.parameters, `${root}.devices.config[${index}].opaque.parameters`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(...err.problems);
    }
  });
  return problems;
}

/** One of a claim's devices of this driver, as allocated, with the parameters that apply to it. */
export interface ClaimDevice {
  readonly request: string;
  readonly pool: string;
  readonly device: string;
  readonly shareID?: string;
  readonly parameters: ClaimParameters;
}

/** Which claim and device an attachment came from (kept with the attachment, for its status). */
export interface ClaimDeviceRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly request: string;
  readonly pool: string;
  readonly device: string;
  readonly shareID?: string;
}

/**
 * The devices of this driver a claim was allocated (status.allocation.devices.results), in the order
 * of the results, each with the merged parameters of the opaque configs that apply to its request
 * (the class's first, then the claim's; a later one wins field by field). Throws a ValidationError
 * naming the config that is wrong.
 */
export function claimDevices(claim: unknown): ClaimDevice[] {
  const status = isObject(claim) && isObject(claim.status) ? claim.status : undefined;
  const allocation = status && isObject(status.allocation) ? status.allocation : undefined;
  const devices = allocation && isObject(allocation.devices) ? allocation.devices : undefined;
  const results = devices && Array.isArray(devices.results) ? devices.results.filter(isObject) : [];
  const configs = devices && Array.isArray(devices.config) ? devices.config : [];
  const parsed = configs.map((config, index) => {
    if (!isObject(config) || !isObject(config.opaque) || config.opaque.driver !== draDriver) return undefined;
    const requests = Array.isArray(config.requests)
      ? config.requests.filter((r) => typeof r === 'string')
      : [];
    const parameters = claimParameters(
      config.opaque.parameters,
      `status.allocation.devices.config[${index}].opaque.parameters`,
    );
    return { requests, parameters };
  });
  return results
    .filter((r) => r.driver === draDriver)
    .map((r) => {
      const text = (value: unknown): string => (typeof value === 'string' ? value : '');
      const request = text(r.request);
      const parent = request.split('/')[0]!;
      const parameters: ClaimParameters = {};
      for (const config of parsed) {
        if (!config) continue;
        if (
          config.requests.length > 0 &&
          !config.requests.includes(request) &&
          !config.requests.includes(parent)
        )
          continue;
        Object.assign(parameters, config.parameters);
      }
      return {
        request,
        pool: text(r.pool),
        device: text(r.device),
        ...(typeof r.shareID === 'string' && r.shareID ? { shareID: r.shareID } : {}),
        parameters,
      };
    });
}

/** KEP-4817's networkData: the interface as the pod sees it, its addresses with prefix, its MAC. */
export interface NetworkDeviceData {
  readonly interfaceName: string;
  readonly ips?: readonly string[];
  readonly hardwareAddress?: string;
}

/** The networkData of an attachment's result: its interface named ifName (the first pod-side one else). */
export function networkDataFromResult(result: CniResult, ifName: string): NetworkDeviceData {
  const interfaces = resultInterfaces(result, ifName);
  const iface = interfaces.find((i) => i.name === ifName) ?? interfaces[0]!;
  const ips = iface.ips.map((ip) => ip.address).slice(0, 16);
  return {
    interfaceName: iface.name,
    ...(ips.length > 0 ? { ips } : {}),
    ...(iface.mac ? { hardwareAddress: iface.mac } : {}),
  };
}

/** One entry of a claim's status.devices (AllocatedDeviceStatus). */
export interface DeviceStatus {
  readonly driver: string;
  readonly pool: string;
  readonly device: string;
  readonly shareID?: string;
  readonly conditions: readonly JsonObject[];
  readonly networkData?: NetworkDeviceData;
}

function sameDevice(
  a: { driver?: unknown; pool?: unknown; device?: unknown; shareID?: unknown },
  b: ClaimDeviceRef,
): boolean {
  return (
    a.driver === draDriver &&
    a.pool === b.pool &&
    a.device === b.device &&
    (a.shareID ?? undefined) === b.shareID
  );
}

/** The status entry of an attached device: Ready, and its networkData. */
export function attachedDeviceStatus(
  ref: ClaimDeviceRef,
  data: NetworkDeviceData,
  pod: { readonly namespace: string; readonly name: string },
  now: Date,
): DeviceStatus {
  return {
    driver: draDriver,
    pool: ref.pool,
    device: ref.device,
    ...(ref.shareID ? { shareID: ref.shareID } : {}),
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Attached',
        message: `attached to pod ${pod.namespace}/${pod.name} as ${data.interfaceName}`,
        lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    ],
    networkData: data,
  };
}

/**
 * A claim's status.devices with the entries of `refs` replaced by `entries` (or dropped, when
 * `entries` has none for them); other drivers' entries and this driver's other devices stay as they are.
 */
export function mergeDeviceStatuses(
  current: unknown,
  refs: readonly ClaimDeviceRef[],
  entries: readonly DeviceStatus[],
): JsonObject[] {
  const kept = (Array.isArray(current) ? current.filter(isObject) : []).filter(
    (entry) => !refs.some((ref) => sameDevice(entry, ref)),
  );
  return [...kept, ...(entries as unknown as JsonObject[])];
}
