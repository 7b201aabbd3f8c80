/**
 * Which delegates a pod gets, in order: its default network (the cluster network, or the pod's
 * `v1.multus-cni.io/default-network` override), then the cluster's default networks, then the
 * networks its annotation selects; with interface names and the capability arguments for each.
 */
import { parseDefaultNetworkAnnotation } from '../lib/annotations/default-network.ts';
import { splitNetworkKey } from '../lib/node-state.ts';
import { defaultNetworkAnnotation, networksAnnotation } from '../lib/annotations/keys.ts';
import { parseNetworksAnnotation, type NetworkSelectionElement } from '../lib/annotations/networks.ts';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import { ValidationError } from '../lib/errors.ts';
import { planInterfaceNames } from '../lib/interface-plan.ts';
import type { JsonObject, JsonValue } from '../lib/safe-json.ts';
import {
  isolationViolation,
  notFoundMessage,
  selectionLabel,
  type IsolationPolicy,
} from '../lib/selection.ts';
import { findByNetworkName, type ConfDirScan, type ConfFile } from './conf-dir.ts';
import type { DelegateNetwork } from './delegate-runner.ts';
import type { NetworkSource, PodInfo, PodRef } from './network-source.ts';

export interface NetworkOptions extends IsolationPolicy {
  /** Replaces the node's default network: a NAD ("namespace/name") or a network name in the CNI conf dir. */
  readonly clusterNetwork?: string | undefined;
  /** NADs ("namespace/name") every pod gets after its default network (Multus' defaultNetworks). */
  readonly defaultNetworks: readonly string[];
  /** Pods in these namespaces do not get the defaultNetworks. */
  readonly systemNamespaces: readonly string[];
}

export interface PlannedAttachment {
  readonly network: DelegateNetwork;
  readonly ifName: string;
  readonly isDefault: boolean;
  readonly runtimeConfig: JsonObject;
  readonly cniArgs?: JsonObject;
  readonly selection?: NetworkSelectionElement;
}

export interface ResolveRequest {
  readonly pod: PodRef | undefined;
  readonly runtimeIfName: string;
  /** The capability arguments the runtime passed for the pod (portMappings, bandwidth, ...). */
  readonly runtimeConfig: JsonObject;
}

export interface Resolution {
  readonly pod: PodInfo | undefined;
  readonly attachments: readonly PlannedAttachment[];
}

function configError(message: string): CniError {
  return new CniError(CniErrorCode.invalidConfig, message);
}

/** The capability arguments a selection asks for, under the CNI capability names. */
export function selectionRuntimeConfig(element: NetworkSelectionElement): JsonObject {
  const out: Record<string, JsonValue> = {};
  if (element.ips) out.ips = [...element.ips];
  if (element.mac) out.mac = element.mac;
  if (element['infiniband-guid']) out.infinibandGUID = element['infiniband-guid'];
  if (element.portMappings) out.portMappings = element.portMappings.map((p) => ({ ...p }));
  if (element.bandwidth) out.bandwidth = { ...element.bandwidth };
  return out;
}

export class AttachmentResolver {
  private readonly source: NetworkSource;
  private readonly scan: () => Promise<ConfDirScan>;
  private readonly options: NetworkOptions;
  private readonly confDir: string;

  constructor(deps: {
    source: NetworkSource;
    scan: () => Promise<ConfDirScan>;
    options: NetworkOptions;
    confDir: string;
  }) {
    this.source = deps.source;
    this.scan = deps.scan;
    this.options = deps.options;
    this.confDir = deps.confDir;
  }

  async resolve(request: ResolveRequest): Promise<Resolution> {
    const pod = request.pod ? await this.source.getPod(request.pod) : undefined;
    const who = request.pod ? `pod ${request.pod.namespace}/${request.pod.name}` : 'this container';
    const scan = await this.scan();
    const annotations = pod?.annotations ?? {};
    const podNamespace = request.pod?.namespace ?? 'default';

    let defaultNetwork: DelegateNetwork;
    const override = annotations[defaultNetworkAnnotation];
    if (override !== undefined) {
      const element = this.parse(() => parseDefaultNetworkAnnotation(override, podNamespace), who);
      const label = `${defaultNetworkAnnotation} "${element.namespace}/${element.name}"`;
      const violation = isolationViolation(podNamespace, element, this.options);
      if (violation) throw configError(`${who}: ${label}: ${violation}`);
      defaultNetwork = await this.networkFromNad(element.namespace, element.name, scan, `${who}: ${label}`);
    } else {
      defaultNetwork = await this.clusterDefault(scan);
    }

    const planned: Array<
      Omit<PlannedAttachment, 'ifName'> & { explicit?: string | undefined; label: string }
    > = [
      {
        network: defaultNetwork,
        isDefault: true,
        runtimeConfig: request.runtimeConfig,
        label: defaultNetwork.name,
      },
    ];
    if (!this.options.systemNamespaces.includes(podNamespace)) {
      for (const ref of this.options.defaultNetworks) {
        const { namespace, name } = splitNetworkKey(ref);
        const network = await this.networkFromNad(namespace, name, scan, `defaultNetworks entry "${ref}"`);
        planned.push({ network, isDefault: false, runtimeConfig: {}, label: `defaultNetworks "${ref}"` });
      }
    }
    const selections = annotations[networksAnnotation];
    if (selections !== undefined) {
      const elements = this.parse(() => parseNetworksAnnotation(selections, podNamespace), who);
      for (const [index, element] of elements.entries()) {
        const label = selectionLabel(index, element);
        const violation = isolationViolation(podNamespace, element, this.options);
        if (violation) throw configError(`${who}: ${label}: ${violation}`);
        const network = await this.networkFromNad(element.namespace, element.name, scan, `${who}: ${label}`);
        planned.push({
          network,
          isDefault: false,
          runtimeConfig: selectionRuntimeConfig(element),
          ...(element['cni-args'] ? { cniArgs: element['cni-args'] } : {}),
          selection: element,
          explicit: element.interface,
          label,
        });
      }
    }
    const names = this.parse(() => planInterfaceNames(request.runtimeIfName, planned), who);
    return {
      pod,
      attachments: planned.map(({ explicit: _explicit, label: _label, ...attachment }, i) => ({
        ...attachment,
        ifName: names[i]!,
      })),
    };
  }

  /** The default network when the pod does not override it. */
  async clusterDefault(scan?: ConfDirScan): Promise<DelegateNetwork> {
    const current = scan ?? (await this.scan());
    const wanted = this.options.clusterNetwork;
    if (wanted) {
      if (wanted.includes('/')) {
        const { namespace, name } = splitNetworkKey(wanted);
        return this.networkFromNad(namespace, name, current, `clusterNetwork "${wanted}"`);
      }
      const file = findByNetworkName(current, wanted);
      if (!file)
        throw configError(
          `clusterNetwork "${wanted}": no CNI config with that network name in ${this.confDir}`,
        );
      return fromFile(file);
    }
    const first = current.files[0];
    if (!first) {
      throw new CniError(
        CniErrorCode.tryAgainLater,
        `no default network yet: ${this.confDir} holds no CNI configuration besides multinet's own`,
      );
    }
    return fromFile(first);
  }

  private async networkFromNad(
    namespace: string,
    name: string,
    scan: ConfDirScan,
    label: string,
  ): Promise<DelegateNetwork> {
    const nad = await this.source.getNetwork(namespace, name);
    if (!nad) throw configError(`${label}: ${notFoundMessage({ namespace })}`);
    if (nad.invalid)
      throw configError(`${label}: the NetworkAttachmentDefinition is invalid: ${nad.invalid}`);
    if (nad.config) return { name: `${namespace}/${name}`, config: nad.config };
    const file = findByNetworkName(scan, name);
    if (!file) {
      throw configError(
        `${label}: the NetworkAttachmentDefinition has no spec.config and ${this.confDir} has no CNI config named "${name}"`,
      );
    }
    return { name: `${namespace}/${name}`, config: file.config };
  }

  private parse<T>(fn: () => T, who: string): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ValidationError) throw configError(`${who}: ${err.message}`);
      throw err;
    }
  }
}

function fromFile(file: ConfFile): DelegateNetwork {
  return { name: file.config.name || file.path, config: file.config };
}
