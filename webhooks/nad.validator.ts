/**
 * NetworkAttachmentDefinition CREATE/UPDATE: everything lib/ checks (JSON, schemas, bare plugin types,
 * IPAM semantics), denied with the JSON path of each problem; warnings for what is legal but
 * suspicious: unknown fields, plugin binaries the agents report missing, host-local ranges that hand
 * out the same addresses twice.
 */
import { formatProblem, formatProblems } from '../lib/errors.ts';
import { splitNetworkKey } from '../lib/node-state.ts';
import { isObject } from '../lib/safe-json.ts';
import { joinWords } from '../lib/text.ts';
import type { AdmissionRequest } from './admission-review.ts';
import { formatRange, rangesOverlap } from '../lib/cni/host-local.ts';
import type { NadLookup } from './nad-catalog.ts';
import { evaluateNad, type NadEvaluation } from './nad-evaluation.ts';
import type { NodeReport } from './node-report.ts';
import { allow, deny, type Verdict } from './verdict.ts';

export interface NadValidationContext {
  readonly nads: NadLookup;
  readonly nodes: NodeReport;
}

/** At most this many node names are listed in one warning. */
const maxNodesNamed = 5;

function nodeList(nodes: readonly string[]): string {
  const named = nodes.slice(0, maxNodesNamed);
  return nodes.length > maxNodesNamed
    ? `${named.join(', ')} and ${nodes.length - maxNodesNamed} more`
    : joinWords(named);
}

function configText(object: unknown): unknown {
  return isObject(object) && isObject(object.spec) ? object.spec.config : undefined;
}

function isBeingDeleted(object: unknown): boolean {
  return isObject(object) && isObject(object.metadata) && object.metadata.deletionTimestamp != null;
}

function missingBinaryWarnings(evaluation: NadEvaluation, nodes: NodeReport): string[] {
  const total = nodes.agentNodeCount();
  const out: string[] = [];
  for (const binary of evaluation.binaries) {
    const missing = nodes.nodesMissingBinary(binary);
    if (missing.length === 0) continue;
    out.push(
      `spec.config: the CNI plugin "${binary}" is missing on ${missing.length} of ${total} nodes running the agent (${nodeList(missing)}): pods using this network cannot start there`,
    );
  }
  return out;
}

function reportedProblemWarnings(evaluation: NadEvaluation, nodes: NodeReport): string[] {
  const { namespace, name } = splitNetworkKey(evaluation.key);
  const interfaces = new Map<string, string[]>();
  for (const report of nodes.problemsOf(namespace, name)) {
    for (const host of report.missingInterfaces) {
      const list = interfaces.get(host) ?? [];
      list.push(report.node);
      interfaces.set(host, list);
    }
  }
  return [...interfaces].map(
    ([host, on]) =>
      `spec.config: the host interface "${host}" is missing on ${nodeList(on.sort())}: pods using this network cannot start there`,
  );
}

function hostLocalWarnings(evaluation: NadEvaluation, context: NadValidationContext): string[] {
  if (!evaluation.usesHostLocal) return [];
  const out: string[] = [];
  const nodes = context.nodes.agentNodeCount();
  if (nodes > 1) {
    const where = evaluation.hostLocal[0];
    out.push(
      `${where?.path ?? 'spec.config'}: host-local allocates addresses on each node separately; with ${nodes} nodes running the agent, pods on different nodes can get the same address${where ? ` from ${formatRange(where)}` : ''}. Use a cluster-wide IPAM (e.g. whereabouts) or give each node its own network`,
    );
  }
  const networkName = evaluation.config?.name;
  for (const other of context.nads.hostLocalNetworks()) {
    if (other.key === evaluation.key || other.config?.name === networkName) continue;
    for (const mine of evaluation.hostLocal) {
      const clash = other.hostLocal.find((theirs) => rangesOverlap(mine, theirs));
      if (!clash) continue;
      out.push(
        `${mine.path}: the range ${formatRange(mine)} overlaps ${formatRange(clash)} of NetworkAttachmentDefinition "${other.key}"; host-local keeps separate allocations per network name, so pods of both networks can get the same address`,
      );
      break;
    }
  }
  return out;
}

function nameOf(object: unknown, fallback: string | undefined): string {
  const metadata = isObject(object) && isObject(object.metadata) ? object.metadata : {};
  return typeof metadata.name === 'string' ? metadata.name : (fallback ?? '');
}

export function validateNadReview(request: AdmissionRequest, context: NadValidationContext): Verdict {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
  const object = request.object;
  if (!isObject(object)) return deny('request.object must be a NetworkAttachmentDefinition', [], 400);
  if (isBeingDeleted(object)) return allow();
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const namespace =
    typeof metadata.namespace === 'string' ? metadata.namespace : (request.namespace ?? 'default');
  const evaluation = evaluateNad(object, namespace, nameOf(object, request.name));
  const warnings = evaluation.warnings.map(formatProblem);
  if (!evaluation.accepted) {
    // An update that leaves spec.config alone (labels, finalizers, owner references) must not be
    // blocked by a config that was stored before the webhook existed: allow it, and say so.
    if (request.operation === 'UPDATE' && configText(request.oldObject) === configText(object)) {
      return allow([
        `this NetworkAttachmentDefinition is invalid and pods cannot use it: ${formatProblems(evaluation.problems)}`,
        ...warnings,
      ]);
    }
    return deny(formatProblems(evaluation.problems), warnings);
  }
  return allow([
    ...warnings,
    ...missingBinaryWarnings(evaluation, context.nodes),
    ...reportedProblemWarnings(evaluation, context.nodes),
    ...hostLocalWarnings(evaluation, context),
  ]);
}
