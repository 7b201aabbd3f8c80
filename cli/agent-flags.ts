/** The agent's command-line flags: one table for parsing, defaults and `multinet agent --help`. */
import { logLevels, type LogLevel } from '../lib/log.ts';
import { UsageError } from './io.ts';
import { parseOptions } from './options.ts';
import type { NetworkOptions } from '../agent/resolve.ts';

export const agentFlagDefaults = {
  cniConfDir: '/etc/cni/net.d',
  cniBinDir: '/opt/cni/bin',
  stateDir: '/var/lib/multinet',
  socket: '/run/multinet/agent.sock',
  confFileName: '00-multinet.conflist',
  shimName: 'multinet-cni',
  delegateTimeout: 60,
  agentWait: 30,
  readinessTimeout: 60,
  maxParallel: 8,
  maxQueued: 1000,
  systemNamespaces: 'kube-system',
  path: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
} as const;

const d = agentFlagDefaults;

export const agentUsage = `Usage: multinet agent --standalone --nad-dir D [flags]

Runs the node agent: writes ${d.confFileName} from the node's default network, keeps it current,
serves the CNI shim's requests on a unix socket and runs the delegate plugins.

Source of networks:
  --standalone                  read NADs (and pods) from files instead of the API server
  --nad-dir D                   directory of NetworkAttachmentDefinition manifests (YAML/JSON)
  --pod-dir D                   directory of Pod manifests whose annotations select networks (optional)

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

Behaviour:
  --delegate-timeout SECONDS    kill a delegate plugin that runs longer (default: ${d.delegateTimeout})
  --agent-wait SECONDS          how long the shim waits for an unreachable agent on ADD (default: ${d.agentWait})
  --readiness-indicator-file F  ADD waits until this file exists (Multus' readinessindicatorfile)
  --readiness-timeout SECONDS   how long ADD waits for it (default: ${d.readinessTimeout})
  --max-parallel N              CNI requests served at once (default: ${d.maxParallel})
  --max-queued N                CNI requests allowed to wait; beyond, "try again later" (default: ${d.maxQueued})
  --log-level LEVEL             error, warn, info or debug (default: info)
  --log-format FORMAT           json or text (default: json)
  --log-file FILE               also log to this file`;

export interface AgentFlags {
  readonly standalone: boolean;
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
  readonly shimDir: string | undefined;
  readonly shimName: string;
  readonly delegateTimeoutSeconds: number;
  readonly agentWaitSeconds: number;
  readonly readinessIndicatorFile: string | undefined;
  readonly readinessTimeoutSeconds: number;
  readonly maxParallel: number;
  readonly maxQueued: number;
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'text';
  readonly logFile: string | undefined;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number (got ${JSON.stringify(value)})`);
  return n;
}

export function parseAgentFlags(
  args: readonly string[],
  _env: Readonly<Record<string, string | undefined>>,
): AgentFlags {
  const s = { type: 'string' } as const;
  const { values, positionals } = parseOptions(args, {
    standalone: { type: 'boolean' },
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
  if (!values.standalone)
    throw new UsageError(
      'only --standalone mode is available in this build: give --standalone and --nad-dir',
    );
  if (!values['nad-dir']) throw new UsageError('--standalone needs --nad-dir');
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!logLevels.includes(logLevel))
    throw new UsageError(`--log-level must be one of ${logLevels.join(', ')}`);
  const logFormat = values['log-format'] ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw new UsageError('--log-format must be json or text');
  const defaultNetworks = list(values['default-networks']);
  for (const ref of defaultNetworks) {
    if (!/^[a-z0-9-]+\/[a-z0-9-]+$/.test(ref))
      throw new UsageError(`--default-networks entry ${JSON.stringify(ref)} must be namespace/name`);
  }
  const binDirs = (values['cni-bin-dir'] ?? [d.cniBinDir]).flatMap((v) => v.split(':')).filter(Boolean);
  return {
    standalone: true,
    nadDir: values['nad-dir'],
    podDir: values['pod-dir'],
    network: {
      clusterNetwork: values['cluster-network'],
      defaultNetworks,
      namespaceIsolation: values['namespace-isolation'] === true,
      globalNamespaces: list(values['global-namespaces']),
      systemNamespaces: list(values['system-namespaces'] ?? d.systemNamespaces),
    },
    cniConfDir: values['cni-conf-dir'] ?? d.cniConfDir,
    cniBinDirs: binDirs,
    confFileName: values['conf-file-name'] ?? d.confFileName,
    cniVersion: values['cni-version'],
    stateDir: values['state-dir'] ?? d.stateDir,
    socket: values.socket ?? d.socket,
    shimSource: values['shim-source'],
    shimDir: values['shim-dir'],
    shimName: values['shim-name'] ?? d.shimName,
    delegateTimeoutSeconds: positive('delegate-timeout', values['delegate-timeout'], d.delegateTimeout),
    agentWaitSeconds: positive('agent-wait', values['agent-wait'], d.agentWait),
    readinessIndicatorFile: values['readiness-indicator-file'],
    readinessTimeoutSeconds: positive('readiness-timeout', values['readiness-timeout'], d.readinessTimeout),
    maxParallel: positive('max-parallel', values['max-parallel'], d.maxParallel),
    maxQueued: positive('max-queued', values['max-queued'], d.maxQueued),
    logLevel,
    logFormat,
    logFile: values['log-file'],
  };
}
