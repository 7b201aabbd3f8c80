/** The controller's command-line flags: one table for parsing, defaults and `multinet controller --help`. */
import type { LogLevel } from '../platform/log.ts';
import { defaultStaleAfterSeconds } from '../lib/node-state.ts';
import { integerInRange, listenAddress, logFlags, staleAfterSeconds } from './flag-values.ts';
import { dns1123LabelError, dns1123SubdomainError } from '../lib/k8s/names.ts';
import { UsageError } from './io.ts';
import { parseOptions } from './options.ts';

export const controllerFlagDefaults = {
  leaseName: 'multinet-controller',
  probeListen: ':8080',
  workers: 8,
  staleAfter: defaultStaleAfterSeconds,
  qps: 200,
  burst: 400,
} as const;

const d = controllerFlagDefaults;

export const controllerUsage = `Usage: multinet controller [flags]

Runs the NAD status controller: writes the Accepted, Ready and Degraded conditions, pluginType and the
ready/total node counts on every NetworkAttachmentDefinition from the NodeNetworkStates the agents
report, with Events for transitions. Uses the in-cluster ServiceAccount unless --kubeconfig is given.

Cluster:
  --kubeconfig FILE           kubeconfig to use (default: in-cluster configuration)
  --kube-api-qps N            requests a second to the API server (default: ${d.qps})
  --kube-api-burst N          requests allowed at once above that rate (default: ${d.burst})
  --namespace NS              only write the status of NADs in NS; repeat or join with ',' (default: all)
  --node-selector SELECTOR    only count NodeNetworkStates matching this label selector as nodes

High availability:
  --leader-elect              compete for a coordination.k8s.io Lease; only the holder reconciles
  --lease-namespace NS        namespace of the Lease (default: $POD_NAMESPACE, else the pod's namespace,
                              else "default")
  --lease-name NAME           name of the Lease (default: ${d.leaseName})

Behaviour:
  --workers N                 NADs reconciled at once (default: ${d.workers})
  --stale-after SECONDS       a node whose agent has not reported for longer is not counted, and is
                              named in the Ready message (default: ${d.staleAfter})
  --probe-listen ADDR:PORT    serve /healthz, /readyz and /metrics here; ":PORT" = all interfaces,
                              port 0 = any free port (default: ${d.probeListen})
  --log-level LEVEL           error, warn, info or debug (default: info)
  --log-format FORMAT         json or text (default: json)
  --log-file FILE             also log to this file

SIGTERM or SIGINT stops it gracefully: reconciles in flight finish, the Lease is released so a standby
takes over at once, pending Events are flushed.`;

export interface ControllerFlags {
  readonly kubeconfig: string | undefined;
  readonly qps: number;
  readonly burst: number;
  readonly namespaces: string[];
  readonly nodeSelector: string | undefined;
  readonly leaderElect: boolean;
  readonly leaseNamespace: string | undefined;
  readonly leaseName: string;
  readonly workers: number;
  readonly staleAfterSeconds: number;
  readonly probe: { readonly host: string; readonly port: number };
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'text';
  readonly logFile: string | undefined;
}

export function parseControllerFlags(args: readonly string[]): ControllerFlags {
  const s = { type: 'string' } as const;
  const { values, positionals } = parseOptions(args, {
    kubeconfig: s,
    'kube-api-qps': s,
    'kube-api-burst': s,
    namespace: { type: 'string', multiple: true },
    'node-selector': s,
    'leader-elect': { type: 'boolean' },
    'lease-namespace': s,
    'lease-name': s,
    workers: s,
    'stale-after': s,
    'probe-listen': s,
    'log-level': s,
    'log-format': s,
    'log-file': s,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const { logLevel, logFormat } = logFlags(values);
  const namespaces = (values.namespace ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const ns of [...namespaces, ...(values['lease-namespace'] ? [values['lease-namespace']] : [])]) {
    const problem = dns1123LabelError(ns);
    if (problem) throw new UsageError(`${JSON.stringify(ns)} is not a valid namespace name: ${problem}`);
  }
  const leaseName = values['lease-name'] ?? d.leaseName;
  const leaseProblem = dns1123SubdomainError(leaseName);
  if (leaseProblem)
    throw new UsageError(
      `--lease-name ${JSON.stringify(leaseName)} is not a valid object name: ${leaseProblem}`,
    );
  return {
    kubeconfig: values.kubeconfig,
    qps: integerInRange('kube-api-qps', values['kube-api-qps'], d.qps),
    burst: integerInRange('kube-api-burst', values['kube-api-burst'], d.burst),
    namespaces,
    nodeSelector: values['node-selector'],
    leaderElect: values['leader-elect'] === true,
    leaseNamespace: values['lease-namespace'],
    leaseName,
    workers: integerInRange('workers', values.workers, d.workers),
    staleAfterSeconds: staleAfterSeconds(values['stale-after']),
    probe: listenAddress('probe-listen', values['probe-listen'] ?? d.probeListen),
    logLevel,
    logFormat,
    logFile: values['log-file'],
  };
}
