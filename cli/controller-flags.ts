/**
 * The controller's command-line flags: one table (controllerFlagTable) from which the parse spec, the
 * values, the defaults and `multinet controller --help` are made.
 */
import { logFileFlags, logFlags, staleAfterFlags } from './common-flags.ts';
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
import { integerInRange, listenAddress } from './flag-values.ts';
import { dns1123LabelError, dns1123SubdomainError } from '../lib/k8s/names.ts';
import { UsageError } from './io.ts';

function namespaceName(ns: string): string {
  const problem = dns1123LabelError(ns);
  if (problem) throw new UsageError(`${JSON.stringify(ns)} is not a valid namespace name: ${problem}`);
  return ns;
}

/** The --help sections, in order. */
export const controllerFlagSections = ['Cluster', 'High availability', 'Behaviour'] as const;
const [cluster, availability, behaviour] = controllerFlagSections;

/** Every flag of `multinet controller`, keyed by its field in ControllerFlags, in --help order. */
export const controllerFlagTable = {
  kubeconfig: stringFlag({
    name: 'kubeconfig',
    section: cluster,
    arg: 'FILE',
    help: 'kubeconfig to use',
    shownDefault: 'in-cluster configuration',
  }),
  qps: stringFlag({
    name: 'kube-api-qps',
    section: cluster,
    arg: 'N',
    help: 'requests a second to the API server',
    default: 200,
    read: integerInRange,
  }),
  burst: stringFlag({
    name: 'kube-api-burst',
    section: cluster,
    arg: 'N',
    help: 'requests allowed at once above that rate',
    default: 400,
    read: integerInRange,
  }),
  namespaces: repeatableFlag({
    name: 'namespace',
    section: cluster,
    arg: 'NS',
    help: "only write the status of NADs in NS; repeat or join with ','",
    shownDefault: 'all',
    read: (_flag, given) =>
      (given ?? [])
        .flatMap((v) => v.split(','))
        .map((v) => v.trim())
        .filter(Boolean)
        .map(namespaceName),
  }),
  nodeSelector: stringFlag({
    name: 'node-selector',
    section: cluster,
    arg: 'SELECTOR',
    help: 'only count NodeNetworkStates matching this label selector as nodes',
  }),

  leaderElect: booleanFlag({
    name: 'leader-elect',
    section: availability,
    help: 'compete for a coordination.k8s.io Lease; only the holder reconciles',
  }),
  leaseNamespace: stringFlag({
    name: 'lease-namespace',
    section: availability,
    arg: 'NS',
    help: 'namespace of the Lease',
    shownDefault: '$POD_NAMESPACE, else the pod\'s namespace, else "default"',
    read: (_flag, given) => (given ? namespaceName(given) : given),
  }),
  leaseName: stringFlag({
    name: 'lease-name',
    section: availability,
    arg: 'NAME',
    help: 'name of the Lease',
    default: 'multinet-controller',
    read: (flag, given, fallback) => {
      const name = given ?? fallback;
      const problem = dns1123SubdomainError(name);
      if (problem)
        throw new UsageError(`--${flag} ${JSON.stringify(name)} is not a valid object name: ${problem}`);
      return name;
    },
  }),

  workers: stringFlag({
    name: 'workers',
    section: behaviour,
    arg: 'N',
    help: 'NADs reconciled at once',
    default: 8,
    read: integerInRange,
  }),
  ...inSection(behaviour, staleAfterFlags),
  probe: stringFlag({
    name: 'probe-listen',
    section: behaviour,
    arg: 'ADDR:PORT',
    help: 'serve /healthz, /readyz and /metrics here; ":PORT" = all interfaces, port 0 = any free port',
    default: ':8080',
    read: (flag, given, fallback) => listenAddress(flag, given ?? fallback),
  }),
  ...inSection(behaviour, { ...logFlags, ...logFileFlags }),
};

/** The flags' defaults, by ControllerFlags field. */
export const controllerFlagDefaults = flagDefaults(controllerFlagTable);

export const controllerUsage = `Usage: multinet controller [flags]

Runs the NAD status controller: writes the Accepted, Ready and Degraded conditions, pluginType and the
ready/total node counts on every NetworkAttachmentDefinition from the NodeNetworkStates the agents
report, with Events for transitions. Uses the in-cluster ServiceAccount unless --kubeconfig is given.

${flagHelp(controllerFlagTable, controllerFlagSections)}

SIGTERM or SIGINT stops it gracefully: reconciles in flight finish, the Lease is released so a standby
takes over at once, pending Events are flushed.`;

export type ControllerFlags = FlagValues<typeof controllerFlagTable>;

export function parseControllerFlags(args: readonly string[]): ControllerFlags {
  const { values, positionals } = parseFlags(controllerFlagTable, args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return values;
}
