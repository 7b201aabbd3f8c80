/**
 * Which delegates a pod gets, in order: its default network (the cluster network, or the pod's
 * `v1.multus-cni.io/default-network` override), then the cluster's default networks, then the
 * networks its annotation selects; with interface names and the capability arguments for each.
 */
import type { NetworkSelectionElement } from '../lib/annotations/networks.ts';
import { CniError, CniErrorCode } from '../lib/cni/error.ts';
import { formatProblems } from '../lib/errors.ts';
import { networkKey, splitNetworkKey } from '../lib/node-state.ts';
import type { ClaimDeviceRef } from '../lib/dra.ts';
import { planPodNetworks, type ClaimedNetwork, type PodNetworkPolicy } from '../lib/pod-networks.ts';
import type { JsonObject } from '../lib/safe-json.ts';
import { notFoundMessage, selectionRuntimeConfig } from '../lib/selection.ts';
import type { AttachedDevice } from './attachment-cache.ts';
import { findByNetworkName, type ConfDirScan, type ConfFile } from './conf-dir.ts';
import type { DelegateNetwork } from './delegate-runner.ts';
import type { NetworkSource, PodInfo, PodRef } from './network-source.ts';

export interface NetworkOptions extends PodNetworkPolicy {
  /** Replaces the node's default network: a NAD ("namespace/name") or a network name in the CNI conf dir. */
  readonly clusterNetwork?: string | undefined;
}

export interface PlannedAttachment {
  readonly network: DelegateNetwork;
  readonly ifName: string;
  readonly isDefault: boolean;
  readonly runtimeConfig: JsonObject;
  readonly cniArgs?: JsonObject;
  readonly selection?: NetworkSelectionElement;
  /** The NAD's resourceName: the attachment needs one of the pod's devices of that resource. */
  readonly resourceName?: string;
  /** The device it was given (agent/devices.ts, after resolving). */
  readonly device?: AttachedDevice;
  /** The ResourceClaim device it comes from (the DRA driver's claims, after the annotation's networks). */
  readonly claim?: ClaimDeviceRef;
}

/** The networks a pod's ResourceClaims give it: the DRA driver's prepared claims (agent/dra/). */
export interface ClaimNetworkSource {
  networksOf(pod: PodInfo): readonly ClaimedNetwork[];
}

/** A NAD's network, with the resource its attachments take a device of. */
interface NadNetwork {
  readonly network: DelegateNetwork;
  readonly resourceName?: string;
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

export class AttachmentResolver {
  private readonly source: NetworkSource;
  private readonly scan: () => Promise<ConfDirScan>;
  private readonly options: NetworkOptions;
  private readonly confDir: string;

  private readonly claims: ClaimNetworkSource | undefined;

  constructor(deps: {
    source: NetworkSource;
    scan: () => Promise<ConfDirScan>;
    options: NetworkOptions;
    confDir: string;
    claims?: ClaimNetworkSource | undefined;
  }) {
    this.source = deps.source;
    this.claims = deps.claims;
    this.scan = deps.scan;
    this.options = deps.options;
    this.confDir = deps.confDir;
  }

  async resolve(request: ResolveRequest): Promise<Resolution> {
    const pod = request.pod ? await this.source.getPod(request.pod) : undefined;
    const who = request.pod ? `pod ${request.pod.namespace}/${request.pod.name}` : 'this container';
    const scan = await this.scan();
    const plan = planPodNetworks(
      pod?.annotations ?? {},
      request.pod?.namespace ?? 'default',
      this.options,
      request.runtimeIfName,
      pod && this.claims ? this.claims.networksOf(pod) : [],
    );
    if (plan.problems.length > 0 || !plan.interfaceNames)
      throw configError(`${who}: ${formatProblems(plan.problems)}`);
    const refused = [plan.defaultNetwork, ...plan.networks].find((n) => n?.violation);
    if (refused) throw configError(`${who}: ${refused.label}: ${refused.violation}`);
    const names = plan.interfaceNames;
    const override = plan.defaultNetwork;
    const defaultNetwork: NadNetwork = override
      ? await this.networkFromNad(override.namespace, override.name, scan, `${who}: ${override.label}`)
      : await this.clusterDefaultNetwork(scan);
    const attachments: PlannedAttachment[] = [
      {
        ...defaultNetwork,
        isDefault: true,
        runtimeConfig: request.runtimeConfig,
        ifName: names[0]!,
      },
    ];
    for (const [index, planned] of plan.networks.entries()) {
      const { element } = planned;
      // The cluster's default networks are the node's configuration, not the pod's: no pod in their messages.
      const label = element ? `${who}: ${planned.label}` : planned.label;
      attachments.push({
        ...(await this.networkFromNad(planned.namespace, planned.name, scan, label)),
        isDefault: false,
        runtimeConfig: element ? selectionRuntimeConfig(element) : {},
        ...(element?.['cni-args'] ? { cniArgs: element['cni-args'] } : {}),
        ...(element ? { selection: element } : {}),
        ...(planned.claim ? { claim: planned.claim } : {}),
        ifName: names[index + 1]!,
      });
    }
    return { pod, attachments };
  }

  /** The default network when the pod does not override it. */
  async clusterDefault(scan?: ConfDirScan): Promise<DelegateNetwork> {
    return (await this.clusterDefaultNetwork(scan)).network;
  }

  private async clusterDefaultNetwork(scan?: ConfDirScan): Promise<NadNetwork> {
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
      return { network: fromFile(file) };
    }
    const first = current.files[0];
    if (!first) {
      throw new CniError(
        CniErrorCode.tryAgainLater,
        `no default network yet: ${this.confDir} holds no CNI configuration besides multinet's own`,
      );
    }
    return { network: fromFile(first) };
  }

  private async networkFromNad(
    namespace: string,
    name: string,
    scan: ConfDirScan,
    label: string,
  ): Promise<NadNetwork> {
    const nad = await this.source.getNetwork(namespace, name);
    if (!nad) throw configError(`${label}: ${notFoundMessage({ namespace })}`);
    if (nad.invalid)
      throw configError(`${label}: the NetworkAttachmentDefinition is invalid: ${nad.invalid}`);
    const device = nad.resourceName !== undefined ? { resourceName: nad.resourceName } : {};
    if (nad.config) return { network: { name: networkKey(namespace, name), config: nad.config }, ...device };
    const file = findByNetworkName(scan, name);
    if (!file) {
      throw configError(
        `${label}: the NetworkAttachmentDefinition has no spec.config and ${this.confDir} has no CNI config named "${name}"`,
      );
    }
    return { network: { name: networkKey(namespace, name), config: file.config }, ...device };
  }
}

function fromFile(file: ConfFile): DelegateNetwork {
  return { name: file.config.name || file.path, config: file.config };
}
