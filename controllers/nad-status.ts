/**
 * The status of one NetworkAttachmentDefinition, as a pure function of the NAD, the controller's
 * verdict on its config and what the eligible nodes report. Conditions are metav1.Conditions:
 *
 * - Accepted: spec.config is valid per lib/ (reason InvalidConfig with the JSON paths otherwise);
 * - Ready: accepted and present and usable on every eligible node ("eligible" = a fresh heartbeat);
 * - Degraded: unusable on some nodes (missing plugins, missing host interfaces, agent errors), or
 *   a device network whose resource (the resourceName annotation) no node advertises.
 *
 * "Present on node N" = N lists no problem for the NAD's current config and N's bucket digest says it
 * holds that config (network-index.ts: the digest of the bucket as the controller's cache has it, or
 * of a recent version of the bucket that already had the config). A NAD that was Ready at the same
 * generation stays Ready while its bucket merely resyncs on a node (its own config did not change, so
 * the node still holds it); after a spec change it waits for fresh presence (reason Propagating).
 */
import { formatProblem, type Problem } from '../lib/errors.ts';
import type { NodeNetworkProblem } from '../lib/node-state.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface NadStatus {
  readonly observedGeneration: number;
  readonly pluginType: string;
  /** "ready/total", the NODES printer column. */
  readonly nodes: string;
  readonly readyNodes: number;
  readonly totalNodes: number;
  readonly conditions: readonly Condition[];
}

const conditionTypes = ['Accepted', 'Ready', 'Degraded'] as const;

/** The controller's verdict on spec.config (see config-verdict.ts). */
export type ConfigVerdict =
  | {
      readonly accepted: true;
      readonly pluginType: string;
      readonly warnings: readonly Problem[];
      /** spec.config is empty: nodes use their CNI config file of this network name. */
      readonly emptyConfigName?: string;
    }
  | { readonly accepted: false; readonly pluginType: string; readonly problems: readonly Problem[] };

/** What one eligible node's report says about the NAD. */
export interface NodePresence {
  readonly name: string;
  /** The node's bucket digest shows it holds the NAD's current config. */
  readonly holds: boolean;
}

export interface StatusInput {
  readonly generation: number;
  /** The status the object has now (anything; unknown shapes count as no status). */
  readonly previous: unknown;
  readonly verdict: ConfigVerdict;
  /** configHash(spec.config) of the NAD as the controller sees it. */
  readonly hash: string;
  /** Eligible nodes (fresh heartbeat), sorted by name. */
  readonly nodes: readonly NodePresence[];
  /** Problems the nodes report for this NAD, by node name. */
  readonly problems: ReadonlyMap<string, NodeNetworkProblem> | undefined;
  /** Nodes left out because their report is stale, sorted by name. */
  readonly staleNodes: readonly string[];
  /** A device network's resource, and how many nodes advertise it (Node status.allocatable). */
  readonly resource?: { readonly name: string; readonly advertisedBy: number } | undefined;
  readonly staleAfterMs: number;
  readonly now: Date;
}

/** At most this many names in one list; the rest are counted. */
const maxNamesInMessage = 10;
const maxProblemsInMessage = 3;
/** Condition messages are kept well under the API's 32 KiB. */
const maxMessageLength = 4096;

function listNames(names: readonly string[]): string {
  if (names.length <= maxNamesInMessage) return names.join(', ');
  return `${names.slice(0, maxNamesInMessage).join(', ')} and ${names.length - maxNamesInMessage} more`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function clip(message: string): string {
  return message.length <= maxMessageLength ? message : `${message.slice(0, maxMessageLength - 3)}...`;
}

/** RFC 3339 with second precision, as metav1.Time serializes. */
function metaTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600}h`;
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The first problems of an invalid config with their JSON paths. */
function problemsMessage(problems: readonly Problem[]): string {
  const shown = problems.slice(0, maxProblemsInMessage).map(formatProblem).join('; ');
  const rest = problems.length - maxProblemsInMessage;
  return rest > 0 ? `${shown} (and ${rest} more)` : shown;
}

interface Unusable {
  readonly reason: string;
  readonly message: string;
  readonly nodes: ReadonlySet<string>;
}

/** Groups the current-config problems of eligible nodes: "plugin macvlan missing on node-b, node-c". */
function summarizeProblems(
  nodes: readonly NodePresence[],
  problems: ReadonlyMap<string, NodeNetworkProblem> | undefined,
  hash: string,
): Unusable | undefined {
  if (!problems || problems.size === 0) return undefined;
  const plugins = new Map<string, string[]>();
  const interfaces = new Map<string, string[]>();
  const errors = new Map<string, string[]>();
  const affected = new Set<string>();
  const add = (map: Map<string, string[]>, what: string, node: string): void => {
    const list = map.get(what);
    if (list) list.push(node);
    else map.set(what, [node]);
  };
  for (const { name } of nodes) {
    const problem = problems.get(name);
    if (!problem || problem.configHash !== hash) continue;
    for (const plugin of problem.missingPlugins ?? []) add(plugins, plugin, name);
    for (const iface of problem.missingInterfaces ?? []) add(interfaces, iface, name);
    if (problem.error) add(errors, problem.error, name);
    if (!problem.missingPlugins?.length && !problem.missingInterfaces?.length && !problem.error)
      add(errors, 'the agent reports the network as unusable', name);
    affected.add(name);
  }
  if (affected.size === 0) return undefined;
  const sorted = (map: Map<string, string[]>): Array<[string, string[]]> =>
    [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = [
    ...sorted(plugins).map(([plugin, on]) => `plugin ${plugin} missing on ${listNames(on)}`),
    ...sorted(interfaces).map(([iface, on]) => `interface ${iface} missing on ${listNames(on)}`),
    ...sorted(errors).map(([error, on]) => `${error} (on ${listNames(on)})`),
  ];
  const kinds = [plugins.size > 0, interfaces.size > 0, errors.size > 0].filter(Boolean).length;
  const reason =
    kinds > 1
      ? 'UnusableOnNodes'
      : plugins.size > 0
        ? 'PluginMissing'
        : interfaces.size > 0
          ? 'InterfaceMissing'
          : 'NodeError';
  return { reason, message: parts.join('; '), nodes: affected };
}

function conditionList(previous: unknown): readonly Condition[] {
  if (typeof previous !== 'object' || previous === null) return [];
  const conditions = (previous as { conditions?: unknown }).conditions;
  return Array.isArray(conditions) ? (conditions as Condition[]) : [];
}

export function findCondition(status: unknown, type: string): Condition | undefined {
  return conditionList(status).find((c) => c?.type === type);
}

/** True when the previous status says Ready at this generation (the anti-flap rule applies). */
function wasReadyAt(previous: unknown, generation: number): boolean {
  const ready = findCondition(previous, 'Ready');
  const observed = (previous as { observedGeneration?: unknown } | undefined)?.observedGeneration;
  return ready?.status === 'True' && observed === generation && ready.observedGeneration === generation;
}

type Draft = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

export function computeNadStatus(input: StatusInput): NadStatus {
  const { verdict, nodes, generation } = input;
  const total = nodes.length;
  const staleNote =
    input.staleNodes.length > 0
      ? `; not counting ${listNames(input.staleNodes)}: no agent report for more than ${formatDuration(input.staleAfterMs)}`
      : '';
  let accepted: Draft;
  let ready: Draft;
  let degraded: Draft;
  let readyNodes = 0;
  if (!verdict.accepted) {
    const message = problemsMessage(verdict.problems);
    accepted = { type: 'Accepted', status: 'False', reason: 'InvalidConfig', message };
    ready = {
      type: 'Ready',
      status: 'False',
      reason: 'InvalidConfig',
      message: 'the config is not valid; see the Accepted condition',
    };
    degraded = {
      type: 'Degraded',
      status: 'False',
      reason: 'NotAccepted',
      message: 'the config is not valid; see the Accepted condition',
    };
  } else {
    const warnings =
      verdict.warnings.length > 0
        ? ` (${plural(verdict.warnings.length, 'warning')}: ${problemsMessage(verdict.warnings)})`
        : '';
    accepted = {
      type: 'Accepted',
      status: 'True',
      reason: 'Valid',
      message:
        verdict.emptyConfigName !== undefined
          ? `spec.config is empty: each node uses its CNI config file named ${JSON.stringify(verdict.emptyConfigName)}`
          : `the CNI config is valid${warnings}`,
    };
    const unusable = summarizeProblems(nodes, input.problems, input.hash);
    const keepReady = wasReadyAt(input.previous, generation);
    const syncing: string[] = [];
    for (const node of nodes) {
      if (unusable?.nodes.has(node.name)) continue;
      if (node.holds || keepReady) readyNodes++;
      else syncing.push(node.name);
    }
    const waiting =
      syncing.length > 0 ? `waiting for ${listNames(syncing)} to pick up the current config` : '';
    const resource = input.resource;
    if (resource && resource.advertisedBy === 0) {
      // Its pods cannot be scheduled anywhere: no node is usable, whatever the agents hold.
      readyNodes = 0;
      const missing = `no node advertises resource "${resource.name}" (Node status.allocatable), so pods of this network cannot be scheduled: is its device plugin running?`;
      degraded = {
        type: 'Degraded',
        status: 'True',
        reason: 'ResourceNotAdvertised',
        message: unusable ? `${missing}; ${unusable.message}` : missing,
      };
      ready = {
        type: 'Ready',
        status: 'False',
        reason: 'ResourceNotAdvertised',
        message: `usable on 0/${total} nodes: ${missing}${staleNote}`,
      };
    } else if (unusable) {
      degraded = { type: 'Degraded', status: 'True', reason: unusable.reason, message: unusable.message };
      ready = {
        type: 'Ready',
        status: 'False',
        reason: 'UnusableOnNodes',
        message: `usable on ${readyNodes}/${total} nodes: ${unusable.message}${waiting ? `; ${waiting}` : ''}${staleNote}`,
      };
    } else {
      degraded = {
        type: 'Degraded',
        status: 'False',
        reason: 'AsExpected',
        message: 'no node reports a problem with this network',
      };
      if (total === 0) {
        ready = {
          type: 'Ready',
          status: 'False',
          reason: 'NoNodes',
          message: `no node reports a fresh NodeNetworkState (is the multinet agent running?)${staleNote}`,
        };
      } else if (syncing.length > 0) {
        ready = {
          type: 'Ready',
          status: 'False',
          reason: 'Propagating',
          message: `usable on ${readyNodes}/${total} nodes; ${waiting}${staleNote}`,
        };
      } else {
        ready = {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: `usable on all ${plural(total, 'node')}${staleNote}`,
        };
      }
    }
  }
  const conditions = [accepted, ready, degraded].map((draft): Condition => {
    const before = findCondition(input.previous, draft.type);
    return {
      type: draft.type,
      status: draft.status,
      observedGeneration: generation,
      lastTransitionTime:
        before?.status === draft.status && typeof before.lastTransitionTime === 'string'
          ? before.lastTransitionTime
          : metaTime(input.now),
      reason: draft.reason,
      message: clip(draft.message),
    };
  });
  // Conditions other controllers or users added are kept as they are.
  const foreign = conditionList(input.previous).filter(
    (c) => typeof c?.type === 'string' && !(conditionTypes as readonly string[]).includes(c.type),
  );
  return {
    observedGeneration: generation,
    pluginType: verdict.pluginType,
    nodes: `${readyNodes}/${total}`,
    readyNodes,
    totalNodes: total,
    conditions: [...conditions, ...foreign],
  };
}

function sameCondition(a: Condition | undefined, b: Condition): boolean {
  return (
    a !== undefined &&
    a.type === b.type &&
    a.status === b.status &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime &&
    a.reason === b.reason &&
    a.message === b.message
  );
}

/** Whether the object's status already says exactly `next` (so nothing needs writing). */
export function statusUpToDate(previous: unknown, next: NadStatus): boolean {
  if (typeof previous !== 'object' || previous === null) return false;
  const p = previous as Partial<Record<keyof NadStatus, unknown>>;
  if (
    p.observedGeneration !== next.observedGeneration ||
    p.pluginType !== next.pluginType ||
    p.nodes !== next.nodes ||
    p.readyNodes !== next.readyNodes ||
    p.totalNodes !== next.totalNodes
  )
    return false;
  const conditions = conditionList(previous);
  if (conditions.length !== next.conditions.length) return false;
  return next.conditions.every((c, i) => sameCondition(conditions[i], c));
}

/**
 * Whether going from `previous` to `next` changes only progress (counts and messages of conditions
 * whose status and reason stay the same, at the same generation): such writes may be coalesced.
 */
export function progressOnly(previous: unknown, next: NadStatus): boolean {
  if (typeof previous !== 'object' || previous === null) return false;
  if ((previous as { observedGeneration?: unknown }).observedGeneration !== next.observedGeneration)
    return false;
  if ((previous as { pluginType?: unknown }).pluginType !== next.pluginType) return false;
  return next.conditions.every((c) => {
    const before = findCondition(previous, c.type);
    return before !== undefined && before.status === c.status && before.reason === c.reason;
  });
}
