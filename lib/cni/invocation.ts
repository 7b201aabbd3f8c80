/**
 * How a network configuration becomes the stdin of each plugin it runs (libcni's semantics): a list
 * hands every plugin its own object plus the list's name and cniVersion, the previous plugin's
 * result (ADD) or the cached result (CHECK/DEL) as prevResult, and only those runtimeConfig keys the
 * plugin declared as capabilities. `args.cni` carries per-attachment CNI args (Multus' cni-args).
 */
import { isObject, type JsonObject, type JsonValue } from '../safe-json.ts';
import type { NetworkConfig } from './config.ts';

export interface InvocationInput {
  /** Capability arguments offered to the network (ips, mac, portMappings, bandwidth, ...). */
  readonly runtimeConfig?: Readonly<Record<string, JsonValue>>;
  readonly prevResult?: JsonObject;
  /** Per-attachment args, given to plugins as args.cni. */
  readonly cniArgs?: JsonObject;
}

/** The runtimeConfig entries a plugin asked for through its capabilities. */
function filterRuntimeConfig(
  plugin: JsonObject,
  offered: Readonly<Record<string, JsonValue>> | undefined,
): JsonObject {
  const out: JsonObject = {};
  if (!offered || !isObject(plugin.capabilities)) return out;
  for (const [key, enabled] of Object.entries(plugin.capabilities)) {
    if (enabled === true && offered[key] !== undefined) out[key] = offered[key];
  }
  return out;
}

/** The stdin for plugin `index` of the configuration. */
export function pluginStdin(config: NetworkConfig, index: number, input: InvocationInput): JsonObject {
  const plugin = config.plugins[index];
  if (!plugin) throw new RangeError(`plugin index ${index} out of range`);
  const out: JsonObject = { ...plugin, cniVersion: config.cniVersion, name: config.name };
  delete out.capabilities;
  const runtimeConfig = {
    ...(isObject(plugin.runtimeConfig) ? plugin.runtimeConfig : {}),
    ...filterRuntimeConfig(plugin, input.runtimeConfig),
  };
  if (Object.keys(runtimeConfig).length > 0) out.runtimeConfig = runtimeConfig;
  if (input.cniArgs && Object.keys(input.cniArgs).length > 0) {
    const args = isObject(plugin.args) ? plugin.args : {};
    out.args = { ...args, cni: { ...(isObject(args.cni) ? args.cni : {}), ...input.cniArgs } };
  }
  if (input.prevResult) out.prevResult = input.prevResult;
  else delete out.prevResult;
  return out;
}
