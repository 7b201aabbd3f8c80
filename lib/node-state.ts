/**
 * The NodeNetworkState resource (multinet.io/v1alpha1): what one node's agent reports. Sized for 500
 * nodes x 5,000 NADs: problems are listed in full, everything else is summarized as 64 bucket digests
 * of "namespace/name=configHash" lines, which the controller recomputes from its own NAD cache to tell
 * which NADs a node holds in their current version. Agent and controller share these functions.
 */
import { createHash } from 'node:crypto';
import { hostInterfaces, requiredBinaries, type NetworkConfig } from './cni/config.ts';

export const nodeStateGroup = 'multinet.io';
export const nodeStateVersion = 'v1alpha1';
export const nodeStateApiVersion = `${nodeStateGroup}/${nodeStateVersion}`;
export const nodeStateKind = 'NodeNetworkState';
export const nodeStatePlural = 'nodenetworkstates';

/** The API path of one node's report. */
export function nodeStatePath(nodeName: string): string {
  return `/apis/${nodeStateGroup}/${nodeStateVersion}/${nodeStatePlural}/${encodeURIComponent(nodeName)}`;
}
export const digestBuckets = 64;

/** One NAD that cannot be used on the node, and why. */
export interface NodeNetworkProblem {
  namespace: string;
  name: string;
  configHash: string;
  missingPlugins?: string[];
  missingInterfaces?: string[];
  error?: string;
}

export interface NodeNetworkStateStatus {
  nodeName: string;
  agentVersion: string;
  heartbeatTime: string;
  cniBinDirs: string[];
  /** The default network the agent's CNI config points at ("" when the node has none yet). */
  defaultNetwork: string;
  /** How many NADs the agent holds a delegate config for. */
  networkCount: number;
  /** digestBuckets digests over "namespace/name=configHash" lines (see bucketDigests). */
  digests: string[];
  problems: NodeNetworkProblem[];
  /**
   * The node's allocatable count (Node status.allocatable) of each resource its NADs name in
   * resourceName, by name; absent when no NAD does (or the Node could not be read).
   */
  resources?: NodeResourceCount[];
  /** The CNI shim installed on the node (agents from before issue 25 do not report it). */
  shim?: NodeShimState;
  /** The node's CNI config dir: is the generated config there, first, and made from the default network. */
  cniConfig?: NodeCniConfigState;
}

/** The CNI shim the runtime executes on the node, as the agent finds it. */
export interface NodeShimState {
  /** Where it is installed (the CNI bin dir). */
  path: string;
  /** Its multinet release (`multinet-cni --version`); "" when it cannot be told. */
  version: string;
  /** It is the shim of the agent's own release. */
  matchesAgent: boolean;
  /** Why it could not be read or told (missing, prints no version). */
  error?: string;
}

/** When the agent found its generated config removed, or changed by someone else, and wrote it again. */
export interface ExternalConfigChange {
  time: string;
  change: 'removed' | 'changed';
}

/** The node's CNI config dir as the agent sees it: its generated file, and the one the runtime uses. */
export interface NodeCniConfigState {
  /** The generated config (00-multinet.conflist). */
  path: string;
  present: boolean;
  /** The file the container runtime uses: the first CNI config file in the dir by name ("" when none). */
  runtimeFile: string;
  /** The default network file the generated config names ("" when it is absent or names none). */
  generatedFrom: string;
  /** The last time something else removed or changed the generated file (null: never, since the agent started). */
  externalChange: ExternalConfigChange | null;
}

/** How many devices of one resource the node offers pods. */
export interface NodeResourceCount {
  name: string;
  allocatable: number;
}

export interface NodeNetworkState {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  status?: NodeNetworkStateStatus;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash of a NAD's spec.config as stored (an empty config hashes as ""). */
export function configHash(config: string | undefined): string {
  return sha256(config ?? '').slice(0, 16);
}

export function networkKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** "namespace/name" back to its parts; a bare name is in `defaultNamespace`. */
export function splitNetworkKey(
  key: string,
  defaultNamespace = 'default',
): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: defaultNamespace, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** What a node has: plugin binaries in its CNI bin dirs and host network interfaces. */
export interface NodeInventory {
  /** undefined: not known (nothing is reported missing). */
  readonly plugins?: ReadonlySet<string> | undefined;
  readonly interfaces?: ReadonlySet<string> | undefined;
}

/** The plugins and host interfaces a config needs that the node lacks. */
export function missingOnNode(
  config: NetworkConfig,
  inventory: NodeInventory,
): { missingPlugins: string[]; missingInterfaces: string[] } {
  const { plugins, interfaces } = inventory;
  return {
    missingPlugins: plugins ? requiredBinaries(config).filter((p) => !plugins.has(p)) : [],
    missingInterfaces: interfaces ? hostInterfaces(config).filter((i) => !interfaces.has(i)) : [],
  };
}

/** The NAD a problem is about: its identity and the config version the node holds. */
export type ProblemSubject = Pick<NodeNetworkProblem, 'namespace' | 'name' | 'configHash'>;

/**
 * Why a node cannot use a NAD, or undefined when it can: the one rule of the agent's report (and of the
 * tests' simulated agents). `config` undefined: the NAD has no spec.config and the node's conf dir
 * (`confDir`) no CNI config of its name.
 */
export function problemOnNode(
  subject: ProblemSubject,
  config: NetworkConfig | undefined,
  inventory: NodeInventory,
  confDir: string,
): NodeNetworkProblem | undefined {
  const base = { namespace: subject.namespace, name: subject.name, configHash: subject.configHash };
  if (!config)
    return {
      ...base,
      error: `spec.config is empty and ${confDir} has no CNI config named "${subject.name}"`,
    };
  const { missingPlugins, missingInterfaces } = missingOnNode(config, inventory);
  if (missingPlugins.length === 0 && missingInterfaces.length === 0) return undefined;
  return {
    ...base,
    ...(missingPlugins.length > 0 ? { missingPlugins } : {}),
    ...(missingInterfaces.length > 0 ? { missingInterfaces } : {}),
  };
}

/** Problems in the report's order: by NAD key, in code-unit order (localeCompare would load ICU's collation data). */
export function sortProblems(problems: NodeNetworkProblem[]): NodeNetworkProblem[] {
  const key = (p: NodeNetworkProblem): string => networkKey(p.namespace, p.name);
  return problems.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * A report's problems by NAD key, as its readers (the controller's index, the webhook's) take them:
 * entries without a namespace and name (a report written by something else) are left out.
 */
export function reportedProblems(state: Pick<NodeNetworkState, 'status'>): Map<string, NodeNetworkProblem> {
  const problems = new Map<string, NodeNetworkProblem>();
  const listed: unknown = state.status?.problems;
  for (const problem of Array.isArray(listed) ? (listed as Array<Partial<NodeNetworkProblem> | null>) : []) {
    if (typeof problem?.namespace !== 'string' || typeof problem.name !== 'string') continue;
    problems.set(networkKey(problem.namespace, problem.name), problem as NodeNetworkProblem);
  }
  return problems;
}

/** A node counts while its agent's last heartbeat is at most this old (the controller's and the webhook's --stale-after). */
export const defaultStaleAfterSeconds = 180;

/** When the node's agent last reported (ms since the epoch); NaN when it never did or the time does not parse. */
export function heartbeatOf(state: Pick<NodeNetworkState, 'status'>): number {
  const time = state.status?.heartbeatTime;
  return typeof time === 'string' ? Date.parse(time) : NaN;
}

/**
 * Node eligibility, the one rule for the controller (which nodes a NAD's Ready counts) and the webhook
 * (how many nodes run the agent, which lack a plugin): a heartbeat that parses and is at most
 * staleAfterMs old. A report without a usable heartbeat never counts.
 */
export function isEligible(heartbeatMs: number, now: number, staleAfterMs: number): boolean {
  return Number.isFinite(heartbeatMs) && now - heartbeatMs <= staleAfterMs;
}

export function bucketOf(key: string): number {
  return parseInt(sha256(key).slice(0, 8), 16) % digestBuckets;
}

export interface HeldNetwork {
  readonly key: string;
  readonly hash: string;
}

/** The bucket digests of a set of networks; equal sets give equal digests whatever their order. */
export function bucketDigests(networks: Iterable<HeldNetwork>): string[] {
  const lines: string[][] = Array.from({ length: digestBuckets }, () => []);
  for (const network of networks) lines[bucketOf(network.key)]!.push(`${network.key}=${network.hash}`);
  return lines.map((bucket) => (bucket.length === 0 ? '' : sha256(bucket.sort().join('\n')).slice(0, 16)));
}
