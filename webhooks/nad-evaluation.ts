/**
 * What the webhook knows about one NetworkAttachmentDefinition: whether lib/ accepts it (the same
 * check the controller's "Accepted" condition and the node agent make), and what pods need to know
 * about it (declared capabilities, plugin binaries, host-local ranges). Pure: a function of the object.
 */
import { networkKey } from '../lib/node-state.ts';
import { declaredCapabilities, requiredBinaries, type NetworkConfig } from '../lib/cni/config.ts';
import { formatProblems, type Problem } from '../lib/errors.ts';
import { checkNad } from '../lib/nad.ts';
import { hostLocalRanges, usesHostLocal, type HostLocalRange } from '../lib/cni/host-local.ts';

export interface NadEvaluation {
  /** "namespace/name". */
  readonly key: string;
  readonly accepted: boolean;
  /** Why the NAD is not accepted (every problem, with its JSON path). */
  readonly problems: readonly Problem[];
  readonly warnings: readonly Problem[];
  /** undefined when spec.config is empty (each node then uses its CNI config file of that name) or invalid. */
  readonly config: NetworkConfig | undefined;
  readonly capabilities: ReadonlySet<string>;
  readonly binaries: readonly string[];
  readonly usesHostLocal: boolean;
  readonly hostLocal: readonly HostLocalRange[];
  /** The device plugin resource its attachments take a device of (k8s.v1.cni.cncf.io/resourceName). */
  readonly resourceName?: string;
}

const none: ReadonlySet<string> = new Set();

export function evaluateNad(object: unknown, namespace: string, name: string): NadEvaluation {
  const key = networkKey(namespace, name);
  const check = checkNad(object, namespace);
  if (!check.accepted) {
    return {
      key,
      accepted: false,
      problems: check.problems,
      warnings: check.warnings,
      config: undefined,
      capabilities: none,
      binaries: [],
      usesHostLocal: false,
      hostLocal: [],
    };
  }
  const { config, warnings } = check;
  return {
    key,
    accepted: true,
    problems: [],
    warnings,
    config,
    capabilities: config ? declaredCapabilities(config) : none,
    binaries: config ? requiredBinaries(config) : [],
    usesHostLocal: config ? usesHostLocal(config) : false,
    hostLocal: config ? hostLocalRanges(config) : [],
    ...(check.resourceName !== undefined ? { resourceName: check.resourceName } : {}),
  };
}

/** The problems as one line: `spec.config.ipam.rangeEnd: ...; spec.config.type: ...`. */
export function rejectionReason(evaluation: NadEvaluation): string {
  return formatProblems(evaluation.problems);
}
