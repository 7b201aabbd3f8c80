/**
 * Flag table entries several commands share: logging, the pods' network policy, --stale-after. A
 * command's table places them in one of its sections with inSection.
 */
import { defaultStaleAfterSeconds } from '../lib/node-state.ts';
import { booleanFlag, stringFlag } from './flag-table.ts';
import { commaList, integerInRange, logFormat, logLevel, networkRefs } from './flag-values.ts';

/** --log-level and --log-format. */
export const logFlags = {
  logLevel: stringFlag({
    name: 'log-level',
    arg: 'LEVEL',
    help: 'error, warn, info or debug',
    default: 'info',
    read: logLevel,
  }),
  logFormat: stringFlag({
    name: 'log-format',
    arg: 'FORMAT',
    help: 'json or text',
    default: 'json',
    read: logFormat,
  }),
};

/** --log-file. */
export const logFileFlags = {
  logFile: stringFlag({ name: 'log-file', arg: 'FILE', help: 'also log to this file' }),
};

/**
 * The pods' network policy (lib/pod-networks.ts PodNetworkPolicy): the agents apply it, the webhook
 * checks pods against it, so both take the same flags.
 */
export const podPolicyFlags = {
  defaultNetworks: stringFlag({
    name: 'default-networks',
    arg: 'LIST',
    help: 'NADs every pod gets after its default network, in order (ns/name,...): they take the first generated interface names',
    read: networkRefs,
  }),
  namespaceIsolation: booleanFlag({
    name: 'namespace-isolation',
    help: 'pods may only select NADs in their own namespace or a global one',
  }),
  globalNamespaces: stringFlag({
    name: 'global-namespaces',
    arg: 'LIST',
    help: 'namespaces whose NADs every pod may select (with --namespace-isolation)',
    read: (_flag, given) => commaList(given),
  }),
  systemNamespaces: stringFlag({
    name: 'system-namespaces',
    arg: 'LIST',
    help: 'pods here do not get --default-networks',
    default: 'kube-system',
    read: (_flag, given, fallback) => commaList(given ?? fallback),
  }),
};

/**
 * `--stale-after SECONDS`, the same flag for the controller and the webhook: how old a node's last
 * agent report may be for the node to count (lib/node-state.ts isEligible).
 */
export const staleAfterFlags = {
  staleAfterSeconds: stringFlag({
    name: 'stale-after',
    arg: 'SECONDS',
    help: 'a node whose agent has not reported for longer is not counted, and the controller names it in the Ready message; give the controller and the webhook the same value',
    default: defaultStaleAfterSeconds,
    read: integerInRange,
  }),
};
