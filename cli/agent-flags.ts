/** The agent's command-line flags: one table for parsing, defaults and `multinet agent --help`. */
import type { LogLevel } from '../platform/log.ts';
import { defaultSocketPath, defaultStateDir } from '../lib/cni/request.ts';
import { defaultDeviceInfoDir } from '../lib/devices.ts';
import { defaultMultusCacheDir } from '../agent/multus-cache.ts';
import { isSupportedCniVersion, supportedCniVersions } from '../lib/cni/version.ts';
import {
  commaList,
  integerInRange,
  listenAddress,
  logFlags,
  networkRefs,
  positiveNumber,
} from './flag-values.ts';
import { dns1123LabelError } from '../lib/k8s/names.ts';
import { UsageError } from './io.ts';
import { parseOptions } from './options.ts';
import type { NetworkOptions } from '../agent/resolve.ts';
import { requestsPerCpu } from '../agent/parallelism.ts';

export const agentFlagDefaults = {
  cniConfDir: '/etc/cni/net.d',
  cniBinDir: '/opt/cni/bin',
  stateDir: defaultStateDir,
  socket: defaultSocketPath,
  confFileName: '00-multinet.conflist',
  shimName: 'multinet-cni',
  spawner: '/usr/local/lib/multinet/multinet-spawner',
  delegateTimeout: 60,
  agentWait: 30,
  readinessTimeout: 60,
  maxParallel: 'auto',
  maxQueued: 1000,
  systemNamespaces: 'kube-system',
  heartbeat: 30,
  probeListen: '127.0.0.1:9641',
  podResourcesSocket: '/var/lib/kubelet/pod-resources/kubelet.sock',
  podResourcesTimeout: 5,
  deviceInfoDir: defaultDeviceInfoDir,
  kubeletRegistryDir: '/var/lib/kubelet/plugins_registry',
  multusCacheDir: defaultMultusCacheDir,
  path: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
} as const;

const d = agentFlagDefaults;

export const agentUsage = `Usage: multinet agent [--kubeconfig FILE] --node-name NAME [flags]
       multinet agent --standalone --nad-dir D [flags]

Runs the node agent: writes ${d.confFileName} from the node's default network, keeps it current,
serves the CNI shim's requests on a unix socket and runs the delegate plugins. With the API server it
keeps every NAD on disk (so pods start while the API is away), writes network-status on pods and
reports the node's NodeNetworkState; standalone it reads NADs and pods from files.

Source of networks:
  --kubeconfig FILE             API server access (default: the in-cluster ServiceAccount)
  --node-name NAME              this node's name (default: $NODE_NAME, set from spec.nodeName in the chart)
  --heartbeat SECONDS           how often the NodeNetworkState is refreshed (default: ${d.heartbeat})
  --standalone                  read NADs (and pods) from files instead of the API server
  --nad-dir D                   standalone: directory of NetworkAttachmentDefinition manifests (YAML/JSON)
  --pod-dir D                   standalone: directory of Pod manifests whose annotations select networks

Networks:
  --default-networks LIST       NADs every pod gets after its default network, in order: ns/name,...
  --cluster-network NAME        replaces the node's default network: a NAD (ns/name) or a network name in the conf dir
  --namespace-isolation         pods may only select NADs in their own namespace or a global one
  --global-namespaces LIST      namespaces whose NADs every pod may select (with --namespace-isolation)
  --system-namespaces LIST      pods here do not get --default-networks (default: ${d.systemNamespaces})

Node paths:
  --cni-conf-dir D              CNI config directory (default: ${d.cniConfDir})
  --cni-bin-dir D               CNI plugin directory; repeat or join with ':' (default: ${d.cniBinDir})
  --conf-file-name NAME         name of the generated config (default: ${d.confFileName})
  --cni-version V               cniVersion of the generated config (default: the default network's)
  --state-dir D                 attachment cache and state (default: ${d.stateDir})
  --socket PATH                 the CNI socket (default: ${d.socket})
  --shim-source FILE            the self-contained shim to install into the CNI bin dir
  --shim-dir D                  where to install it (default: the first --cni-bin-dir)
  --shim-name NAME              its file name, the generated config's "type" (default: ${d.shimName})
  --owner-daemonset [NS/]NAME   the agent's own DaemonSet (namespace: $POD_NAMESPACE): when it is deleted (helm
                                uninstall), the agent removes its CNI config and shim on exit; a restart,
                                upgrade or drain keeps them
  --host-mount-ns PATH|auto     run delegate plugins in the host's mount namespace, so they see the host's
                                files and tools: a /proc/PID/ns/mnt, or auto (the chart's: that of the nearest
                                ancestor outside the agent's container, which needs hostPID)
  --spawner FILE|none           the plugin spawner the agent keeps as its child to start plugins (default:
                                ${d.spawner}, the image's); none: the agent forks them
                                itself, which costs more per plugin the more memory it holds
  --pod-resources-socket PATH   the kubelet's pod-resources API, asked for a pod's devices when a NAD has a
                                resourceName (default: ${d.podResourcesSocket})
  --device-info-dir D           the Device Information Spec's directory, shared with device plugins and
                                delegates (default: ${d.deviceInfoDir})
  --dra                         be the DRA driver networks.multinet.io: publish the NADs usable on this node as
                                devices (ResourceSlices) and serve the kubelet's plugin socket, so pods get
                                networks through ResourceClaims (needs the API server)
  --kubelet-registry-dir D      where the kubelet finds plugin sockets, with --dra
                                (default: ${d.kubeletRegistryDir})
  --multus-cache-dir D          Multus' cniDir on the host: the DEL of a pod Multus attached before multinet
                                took the node over releases what Multus recorded there ("" for none; default:
                                ${d.multusCacheDir})

Behaviour:
  --delegate-timeout SECONDS    kill a delegate plugin that runs longer (default: ${d.delegateTimeout})
  --agent-wait SECONDS          how long the shim waits for an unreachable agent on ADD (default: ${d.agentWait})
  --readiness-indicator-file F  ADD waits until this file exists (Multus' readinessindicatorfile)
  --readiness-timeout SECONDS   how long ADD waits for it (default: ${d.readinessTimeout})
  --pod-resources-timeout SECONDS
                                how long ADD waits for the kubelet's answer (default: ${d.podResourcesTimeout})
  --max-parallel N|auto         CNI requests served at once; auto: ${requestsPerCpu} per CPU, fewer when the agent's memory
                                limit cannot hold that many of the largest delegate run seen (default: ${d.maxParallel})
  --max-queued N                CNI requests allowed to wait; beyond, "try again later" (default: ${d.maxQueued})
  --log-level LEVEL             error, warn, info or debug (default: info)
  --log-format FORMAT           json or text (default: json)
  --log-file FILE               also log to this file
  --probe-listen ADDR:PORT      serve /healthz, /readyz and /metrics here (default: ${d.probeListen} with the
                                API server, none standalone); an agent that takes the socket over from a running
                                one waits for that one to hand the port over
  --serving-file FILE           created once the agent serves the socket, removed when it stops: the chart's
                                startup probe, since the agent being replaced answers the node's probe port
                                until this one took the socket over`;

export interface AgentFlags {
  readonly standalone: boolean;
  readonly kubeconfig: string | undefined;
  readonly nodeName: string | undefined;
  readonly heartbeatSeconds: number;
  readonly probeListen: { host: string; port: number } | undefined;
  readonly servingFile: string | undefined;
  readonly nadDir: string | undefined;
  readonly podDir: string | undefined;
  readonly network: NetworkOptions;
  readonly cniConfDir: string;
  readonly cniBinDirs: string[];
  readonly confFileName: string;
  readonly cniVersion: string | undefined;
  readonly stateDir: string;
  readonly socket: string;
  readonly shimSource: string | undefined;
  /** Multus' cniDir as the host sees it; undefined: do not read Multus' records. */
  readonly multusCacheDir: string | undefined;
  readonly shimDir: string | undefined;
  readonly shimName: string;
  readonly hostMountNamespace: string | undefined;
  /** The plugin spawner executable; undefined: plugins are started by Node's spawn. */
  readonly spawner: string | undefined;
  readonly podResourcesSocket: string;
  readonly podResourcesTimeoutSeconds: number;
  readonly deviceInfoDir: string;
  /** Be the DRA driver networks.multinet.io (agent/dra/). */
  readonly dra: boolean;
  readonly kubeletRegistryDir: string;
  /** The agent's own DaemonSet, namespace/name: when it is deleted, the agent takes its config and shim off the node. */
  readonly ownerDaemonSet: { readonly namespace: string; readonly name: string } | undefined;
  readonly delegateTimeoutSeconds: number;
  readonly agentWaitSeconds: number;
  readonly readinessIndicatorFile: string | undefined;
  readonly readinessTimeoutSeconds: number;
  readonly maxParallel: number | 'auto';
  readonly maxQueued: number;
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'text';
  readonly logFile: string | undefined;
}

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

function absolutePath(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && !value.startsWith('/')) {
    throw new UsageError(`--${flag} must be an absolute path (got ${JSON.stringify(value)})`);
  }
  return value;
}

export function parseAgentFlags(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): AgentFlags {
  const s = { type: 'string' } as const;
  const { values, positionals } = parseOptions(args, {
    standalone: { type: 'boolean' },
    kubeconfig: s,
    'node-name': s,
    heartbeat: s,
    'probe-listen': s,
    'serving-file': s,
    'nad-dir': s,
    'pod-dir': s,
    'default-networks': s,
    'cluster-network': s,
    'namespace-isolation': { type: 'boolean' },
    'global-namespaces': s,
    'system-namespaces': s,
    'cni-conf-dir': s,
    'cni-bin-dir': { type: 'string', multiple: true },
    'conf-file-name': s,
    'cni-version': s,
    'state-dir': s,
    socket: s,
    'shim-source': s,
    'shim-dir': s,
    'shim-name': s,
    'host-mount-ns': s,
    spawner: s,
    'pod-resources-socket': s,
    'pod-resources-timeout': s,
    'device-info-dir': s,
    dra: { type: 'boolean' },
    'kubelet-registry-dir': s,
    'multus-cache-dir': s,
    'owner-daemonset': s,
    'delegate-timeout': s,
    'agent-wait': s,
    'readiness-indicator-file': s,
    'readiness-timeout': s,
    'max-parallel': s,
    'max-queued': s,
    'log-level': s,
    'log-format': s,
    'log-file': s,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const standalone = values.standalone === true;
  if (standalone && !values['nad-dir']) throw new UsageError('--standalone needs --nad-dir');
  if (!standalone && (values['nad-dir'] || values['pod-dir']))
    throw new UsageError('--nad-dir and --pod-dir need --standalone');
  if (standalone && values.kubeconfig)
    throw new UsageError('--kubeconfig and --standalone exclude each other');
  if (standalone && values.dra)
    throw new UsageError(
      '--dra needs the API server (ResourceSlices, ResourceClaims): not with --standalone',
    );
  const nodeName = values['node-name'] ?? env.NODE_NAME;
  if (!standalone && !nodeName) {
    throw new UsageError(
      'give --node-name (or set NODE_NAME): the agent reports and watches pods for its own node',
    );
  }
  const probe = values['probe-listen'] ?? (standalone ? undefined : d.probeListen);
  const { logLevel, logFormat } = logFlags(values);
  const defaultNetworks = networkRefs('default-networks', values['default-networks']);
  const cniVersion = values['cni-version'];
  if (cniVersion !== undefined && !isSupportedCniVersion(cniVersion)) {
    throw new UsageError(
      `--cni-version must be one of ${supportedCniVersions.join(', ')} (got ${JSON.stringify(cniVersion)})`,
    );
  }
  const clusterNetwork = values['cluster-network'];
  if (clusterNetwork !== undefined) {
    if (clusterNetwork.includes('/')) networkRefs('cluster-network', clusterNetwork);
    else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(clusterNetwork)) {
      throw new UsageError(
        `--cluster-network ${JSON.stringify(clusterNetwork)} must be namespace/name or the network name of a CNI config file`,
      );
    }
  }
  const binDirs = (values['cni-bin-dir'] ?? [d.cniBinDir]).flatMap((v) => v.split(':')).filter(Boolean);
  return {
    standalone,
    kubeconfig: values.kubeconfig,
    nodeName,
    heartbeatSeconds: positiveNumber('heartbeat', values.heartbeat, d.heartbeat),
    probeListen: probe ? listenAddress('probe-listen', probe) : undefined,
    servingFile: absolutePath('serving-file', values['serving-file']),
    nadDir: values['nad-dir'],
    podDir: values['pod-dir'],
    network: {
      clusterNetwork,
      defaultNetworks,
      namespaceIsolation: values['namespace-isolation'] === true,
      globalNamespaces: commaList(values['global-namespaces']),
      systemNamespaces: commaList(values['system-namespaces'] ?? d.systemNamespaces),
    },
    cniConfDir: values['cni-conf-dir'] ?? d.cniConfDir,
    cniBinDirs: binDirs,
    confFileName: values['conf-file-name'] ?? d.confFileName,
    cniVersion,
    stateDir: values['state-dir'] ?? d.stateDir,
    socket: values.socket ?? d.socket,
    shimSource: values['shim-source'],
    shimDir: values['shim-dir'],
    shimName: values['shim-name'] ?? d.shimName,
    ownerDaemonSet: ownerDaemonSet(values['owner-daemonset'], env.POD_NAMESPACE),
    hostMountNamespace:
      values['host-mount-ns'] === 'auto' ? 'auto' : absolutePath('host-mount-ns', values['host-mount-ns']),
    spawner: values.spawner === 'none' ? undefined : absolutePath('spawner', values.spawner ?? d.spawner),
    podResourcesSocket:
      absolutePath('pod-resources-socket', values['pod-resources-socket']) ?? d.podResourcesSocket,
    podResourcesTimeoutSeconds: positiveNumber(
      'pod-resources-timeout',
      values['pod-resources-timeout'],
      d.podResourcesTimeout,
    ),
    deviceInfoDir: absolutePath('device-info-dir', values['device-info-dir']) ?? d.deviceInfoDir,
    dra: values.dra === true,
    kubeletRegistryDir:
      absolutePath('kubelet-registry-dir', values['kubelet-registry-dir']) ?? d.kubeletRegistryDir,
    multusCacheDir:
      values['multus-cache-dir'] === ''
        ? undefined
        : (absolutePath('multus-cache-dir', values['multus-cache-dir']) ?? d.multusCacheDir),
    delegateTimeoutSeconds: positiveNumber('delegate-timeout', values['delegate-timeout'], d.delegateTimeout),
    agentWaitSeconds: positiveNumber('agent-wait', values['agent-wait'], d.agentWait),
    readinessIndicatorFile: values['readiness-indicator-file'],
    readinessTimeoutSeconds: positiveNumber(
      'readiness-timeout',
      values['readiness-timeout'],
      d.readinessTimeout,
    ),
    maxParallel:
      (values['max-parallel'] ?? d.maxParallel) === 'auto'
        ? 'auto'
        : integerInRange('max-parallel', values['max-parallel'], 1),
    maxQueued: integerInRange('max-queued', values['max-queued'], d.maxQueued, 0),
    logLevel,
    logFormat,
    logFile: values['log-file'],
  };
}
