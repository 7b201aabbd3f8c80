/**
 * The agent's command-line flags: one table (agentFlagTable) from which the parse spec, the values,
 * the defaults and `multinet agent --help` are made; the rules that involve several flags or the
 * environment follow in parseAgentFlags.
 */
import { defaultSocketPath, defaultStateDir } from '../lib/cni/request.ts';
import { defaultDeviceInfoDir } from '../lib/devices.ts';
import { defaultMultusCacheDir } from '../agent/multus-cache.ts';
import { isSupportedCniVersion, supportedCniVersions } from '../lib/cni/version.ts';
import { logFileFlags, logFlags, podPolicyFlags } from './common-flags.ts';
import {
  booleanFlag,
  flagDefaults,
  flagHelp,
  inSection,
  parseFlags,
  repeatableFlag,
  stringFlag,
  type FlagValues,
} from './flag-table.ts';
import {
  integerInRange,
  listenAddress,
  networkRefs,
  positiveNumber,
  type ListenAddress,
} from './flag-values.ts';
import { dns1123LabelError } from '../lib/k8s/names.ts';
import { UsageError } from './io.ts';
import type { NetworkOptions } from '../agent/resolve.ts';
import { requestsPerCpu } from '../agent/parallelism.ts';

/** The probe port's address with the API server; standalone, the agent serves none unless told to. */
const defaultProbeListen = '127.0.0.1:9641';

/** The --help sections, in order. */
export const agentFlagSections = ['Source of networks', 'Networks', 'Node paths', 'Behaviour'] as const;
const [source, networks, nodePaths, behaviour] = agentFlagSections;

/** Every flag of `multinet agent`, keyed by its field in AgentFlags, in --help order. */
export const agentFlagTable = {
  kubeconfig: stringFlag({
    name: 'kubeconfig',
    section: source,
    arg: 'FILE',
    help: 'API server access',
    shownDefault: 'the in-cluster ServiceAccount',
  }),
  nodeName: stringFlag({
    name: 'node-name',
    section: source,
    arg: 'NAME',
    help: "this node's name",
    shownDefault: '$NODE_NAME, set from spec.nodeName in the chart',
  }),
  heartbeatSeconds: stringFlag({
    name: 'heartbeat',
    section: source,
    arg: 'SECONDS',
    help: 'how often the NodeNetworkState is refreshed',
    default: 30,
    read: positiveNumber,
  }),
  standalone: booleanFlag({
    name: 'standalone',
    section: source,
    help: 'read NADs (and pods) from files instead of the API server',
  }),
  nadDir: stringFlag({
    name: 'nad-dir',
    section: source,
    arg: 'D',
    help: 'standalone: directory of NetworkAttachmentDefinition manifests (YAML/JSON)',
  }),
  podDir: stringFlag({
    name: 'pod-dir',
    section: source,
    arg: 'D',
    help: 'standalone: directory of Pod manifests whose annotations select networks',
  }),

  clusterNetwork: stringFlag({
    name: 'cluster-network',
    section: networks,
    arg: 'NAME',
    help: "replaces the node's default network: a NAD (ns/name) or a network name in the conf dir",
    read: clusterNetwork,
  }),
  ...inSection(networks, podPolicyFlags),

  cniConfDir: stringFlag({
    name: 'cni-conf-dir',
    section: nodePaths,
    arg: 'D',
    help: 'CNI config directory',
    default: '/etc/cni/net.d',
  }),
  cniBinDirs: repeatableFlag({
    name: 'cni-bin-dir',
    section: nodePaths,
    arg: 'D',
    help: "CNI plugin directory; repeat or join with ':'",
    default: '/opt/cni/bin',
    read: (_flag, given, fallback) => (given ?? [fallback]).flatMap((v) => v.split(':')).filter(Boolean),
  }),
  confFileName: stringFlag({
    name: 'conf-file-name',
    section: nodePaths,
    arg: 'NAME',
    help: 'name of the generated config',
    default: '00-multinet.conflist',
  }),
  cniVersion: stringFlag({
    name: 'cni-version',
    section: nodePaths,
    arg: 'V',
    help: 'cniVersion of the generated config',
    shownDefault: "the default network's",
    read: cniVersion,
  }),
  stateDir: stringFlag({
    name: 'state-dir',
    section: nodePaths,
    arg: 'D',
    help: 'attachment cache and state',
    default: defaultStateDir,
  }),
  socket: stringFlag({
    name: 'socket',
    section: nodePaths,
    arg: 'PATH',
    help: 'the CNI socket',
    default: defaultSocketPath,
  }),
  shimSource: stringFlag({
    name: 'shim-source',
    section: nodePaths,
    arg: 'FILE',
    help: 'the self-contained shim to install into the CNI bin dir',
  }),
  shimDir: stringFlag({
    name: 'shim-dir',
    section: nodePaths,
    arg: 'D',
    help: 'where to install it',
    shownDefault: 'the first --cni-bin-dir',
  }),
  shimName: stringFlag({
    name: 'shim-name',
    section: nodePaths,
    arg: 'NAME',
    help: 'its file name, the generated config\'s "type"',
    default: 'multinet-cni',
  }),
  /** The agent's own DaemonSet: when it is deleted, the agent takes its config and shim off the node. */
  ownerDaemonSet: stringFlag({
    name: 'owner-daemonset',
    section: nodePaths,
    arg: '[NS/]NAME',
    help: "the agent's own DaemonSet (namespace: $POD_NAMESPACE): when it is deleted (helm uninstall), the agent removes its CNI config and shim on exit; a restart, upgrade or drain keeps them",
  }),
  hostMountNamespace: stringFlag({
    name: 'host-mount-ns',
    section: nodePaths,
    arg: 'PATH|auto',
    help: "run delegate plugins in the host's mount namespace, so they see the host's files and tools: a /proc/PID/ns/mnt, or auto (the chart's: that of the nearest ancestor outside the agent's container, which needs hostPID)",
    read: (flag, given) => (given === 'auto' ? 'auto' : absolutePath(flag, given, undefined)),
  }),
  /** The plugin spawner executable; undefined: plugins are started by Node's spawn. */
  spawner: stringFlag({
    name: 'spawner',
    section: nodePaths,
    arg: 'FILE|none',
    help: "the plugin spawner the agent keeps as its child to start plugins, the image's by default; none: the agent forks them itself, which costs more per plugin the more memory it holds",
    default: '/usr/local/lib/multinet/multinet-spawner',
    read: (flag, given, fallback) => (given === 'none' ? undefined : absolutePath(flag, given, fallback)),
  }),
  podResourcesSocket: stringFlag({
    name: 'pod-resources-socket',
    section: nodePaths,
    arg: 'PATH',
    help: "the kubelet's pod-resources API, asked for a pod's devices when a NAD has a resourceName",
    default: '/var/lib/kubelet/pod-resources/kubelet.sock',
    read: absolutePath,
  }),
  deviceInfoDir: stringFlag({
    name: 'device-info-dir',
    section: nodePaths,
    arg: 'D',
    help: "the Device Information Spec's directory, shared with device plugins and delegates",
    default: defaultDeviceInfoDir,
    read: absolutePath,
  }),
  /** Be the DRA driver networks.multinet.io (agent/dra/). */
  dra: booleanFlag({
    name: 'dra',
    section: nodePaths,
    help: "be the DRA driver networks.multinet.io: publish the NADs usable on this node as devices (ResourceSlices) and serve the kubelet's plugin socket, so pods get networks through ResourceClaims (needs the API server)",
  }),
  kubeletRegistryDir: stringFlag({
    name: 'kubelet-registry-dir',
    section: nodePaths,
    arg: 'D',
    help: 'where the kubelet finds plugin sockets, with --dra',
    default: '/var/lib/kubelet/plugins_registry',
    read: absolutePath,
  }),
  /** Multus' cniDir as the host sees it; undefined: do not read Multus' records. */
  multusCacheDir: stringFlag({
    name: 'multus-cache-dir',
    section: nodePaths,
    arg: 'D',
    help: 'Multus\' cniDir on the host: the DEL of a pod Multus attached before multinet took the node over releases what Multus recorded there; "" for none',
    default: defaultMultusCacheDir,
    read: (flag, given, fallback) => (given === '' ? undefined : absolutePath(flag, given, fallback)),
  }),
  /** The runtime's libcni cache dir as the host sees it; undefined: not touched. */
  runtimeCniCacheDir: stringFlag({
    name: 'runtime-cni-cache-dir',
    section: nodePaths,
    arg: 'D',
    help: "the container runtime's CNI cache dir (libcni's results/): with --multus-cache-dir, the runtime's cached entry of Multus' own network for a pod Multus attached, which the runtime no longer removes, goes with that pod's DEL; \"\" for none",
    default: '/var/lib/cni',
    read: (flag, given, fallback) => (given === '' ? undefined : absolutePath(flag, given, fallback)),
  }),

  delegateTimeoutSeconds: stringFlag({
    name: 'delegate-timeout',
    section: behaviour,
    arg: 'SECONDS',
    help: 'kill a delegate plugin that runs longer',
    default: 60,
    read: positiveNumber,
  }),
  agentWaitSeconds: stringFlag({
    name: 'agent-wait',
    section: behaviour,
    arg: 'SECONDS',
    help: 'how long the shim waits for an unreachable agent on ADD',
    default: 30,
    read: positiveNumber,
  }),
  readinessIndicatorFile: stringFlag({
    name: 'readiness-indicator-file',
    section: behaviour,
    arg: 'F',
    help: "ADD waits until this file exists (Multus' readinessindicatorfile)",
  }),
  readinessTimeoutSeconds: stringFlag({
    name: 'readiness-timeout',
    section: behaviour,
    arg: 'SECONDS',
    help: 'how long ADD waits for it',
    default: 60,
    read: positiveNumber,
  }),
  podResourcesTimeoutSeconds: stringFlag({
    name: 'pod-resources-timeout',
    section: behaviour,
    arg: 'SECONDS',
    help: "how long ADD waits for the kubelet's answer",
    default: 5,
    read: positiveNumber,
  }),
  maxParallel: stringFlag({
    name: 'max-parallel',
    section: behaviour,
    arg: 'N|auto',
    help: `CNI requests served at once; auto: ${requestsPerCpu} per CPU, fewer when the agent's memory limit cannot hold that many of the largest delegate run seen`,
    default: 'auto',
    read: maxParallel,
  }),
  maxQueued: stringFlag({
    name: 'max-queued',
    section: behaviour,
    arg: 'N',
    help: 'CNI requests allowed to wait; beyond, "try again later"',
    default: 1000,
    read: (flag, given, fallback) => integerInRange(flag, given, fallback, 0),
  }),
  ...inSection(behaviour, { ...logFlags, ...logFileFlags }),
  probeListen: stringFlag({
    name: 'probe-listen',
    section: behaviour,
    arg: 'ADDR:PORT',
    help: 'serve /healthz, /readyz and /metrics here; an agent that takes the socket over from a running one waits for that one to hand the port over',
    shownDefault: `${defaultProbeListen} with the API server, none standalone`,
  }),
  servingFile: stringFlag({
    name: 'serving-file',
    section: behaviour,
    arg: 'FILE',
    help: "created once the agent serves the socket, removed when it stops: the chart's startup probe, since the agent being replaced answers the node's probe port until this one took the socket over",
    read: absolutePath,
  }),
};

/** The flags' defaults, by AgentFlags field. */
export const agentFlagDefaults = { ...flagDefaults(agentFlagTable), probeListen: defaultProbeListen };

/** The PATH delegate plugins get when the agent has none. */
export const defaultPluginPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const agentUsage = `Usage: multinet agent [--kubeconfig FILE] --node-name NAME [flags]
       multinet agent --standalone --nad-dir D [flags]

Runs the node agent: writes ${agentFlagDefaults.confFileName} from the node's default network, keeps it current,
serves the CNI shim's requests on a unix socket and runs the delegate plugins. With the API server it
keeps every NAD on disk (so pods start while the API is away), writes network-status on pods and
reports the node's NodeNetworkState; standalone it reads NADs and pods from files.

${flagHelp(agentFlagTable, agentFlagSections)}`;

type NetworkFlag = keyof typeof podPolicyFlags | 'clusterNetwork';

export type AgentFlags = Omit<
  FlagValues<typeof agentFlagTable>,
  NetworkFlag | 'probeListen' | 'ownerDaemonSet'
> & {
  readonly probeListen: ListenAddress | undefined;
  /** The agent's own DaemonSet, namespace/name: when it is deleted, the agent takes its config and shim off the node. */
  readonly ownerDaemonSet: { readonly namespace: string; readonly name: string } | undefined;
  readonly network: NetworkOptions;
};

/** --owner-daemonset [NAMESPACE/]NAME (the namespace defaults to $POD_NAMESPACE, set by the chart). */
function ownerDaemonSet(
  value: string | undefined,
  podNamespace: string | undefined,
): { namespace: string; name: string } | undefined {
  if (value === undefined) return undefined;
  const [first, second, ...rest] = value.split('/');
  const namespace = second === undefined ? podNamespace : first;
  const name = second ?? first;
  if (rest.length > 0 || !name || dns1123LabelError(name) || !namespace || dns1123LabelError(namespace)) {
    throw new UsageError(
      `--owner-daemonset must be NAMESPACE/NAME or NAME with $POD_NAMESPACE set (got ${JSON.stringify(value)})`,
    );
  }
  return { namespace, name };
}

/** A path that starts with "/", if given; else the default. */
function absolutePath<D extends string | undefined>(
  flag: string,
  given: string | undefined,
  fallback: D,
): string | D {
  if (given !== undefined && !given.startsWith('/')) {
    throw new UsageError(`--${flag} must be an absolute path (got ${JSON.stringify(given)})`);
  }
  return given ?? fallback;
}

function cniVersion(flag: string, given: string | undefined): string | undefined {
  if (given !== undefined && !isSupportedCniVersion(given)) {
    throw new UsageError(
      `--${flag} must be one of ${supportedCniVersions.join(', ')} (got ${JSON.stringify(given)})`,
    );
  }
  return given;
}

/** A NAD (namespace/name) or the network name of a CNI config file in the conf dir. */
function clusterNetwork(flag: string, given: string | undefined): string | undefined {
  if (given === undefined) return undefined;
  if (given.includes('/')) networkRefs(flag, given);
  else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(given)) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(given)} must be namespace/name or the network name of a CNI config file`,
    );
  }
  return given;
}

/** N requests at once, or auto (agent/parallelism.ts). */
function maxParallel(flag: string, given: string | undefined, fallback: string): number | 'auto' {
  return (given ?? fallback) === 'auto' ? 'auto' : integerInRange(flag, given, 1);
}

export function parseAgentFlags(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): AgentFlags {
  const { values, positionals } = parseFlags(agentFlagTable, args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const { standalone } = values;
  if (standalone && !values.nadDir) throw new UsageError('--standalone needs --nad-dir');
  if (!standalone && (values.nadDir || values.podDir))
    throw new UsageError('--nad-dir and --pod-dir need --standalone');
  if (standalone && values.kubeconfig)
    throw new UsageError('--kubeconfig and --standalone exclude each other');
  if (standalone && values.dra)
    throw new UsageError(
      '--dra needs the API server (ResourceSlices, ResourceClaims): not with --standalone',
    );
  const nodeName = values.nodeName ?? env.NODE_NAME;
  if (!standalone && !nodeName) {
    throw new UsageError(
      'give --node-name (or set NODE_NAME): the agent reports and watches pods for its own node',
    );
  }
  const probe = values.probeListen ?? (standalone ? undefined : defaultProbeListen);
  const { clusterNetwork, defaultNetworks, namespaceIsolation, globalNamespaces, systemNamespaces, ...rest } =
    values;
  return {
    ...rest,
    nodeName,
    probeListen: probe ? listenAddress('probe-listen', probe) : undefined,
    ownerDaemonSet: ownerDaemonSet(values.ownerDaemonSet, env.POD_NAMESPACE),
    network: { clusterNetwork, defaultNetworks, namespaceIsolation, globalNamespaces, systemNamespaces },
  };
}
