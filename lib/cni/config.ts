/**
 * CNI network configuration validation: JSON schemas (validators generated from lib/schema-catalog.ts)
 * for the conflist and single-plugin forms, typed schemas for the reference plugins and IPAM, then
 * semantic checks. Every problem carries a JSON path ($.plugins[0].ipam.rangeStart). Unknown fields of
 * known plugins are warnings, not errors, since plugins ignore them: they are almost always typos.
 */
import { ProblemList, ValidationError, type Problem } from '../errors.ts';
import { childPath } from '../json-path.ts';
import { describeType, runSchema, type Validator } from '../schema.ts';
import { ipamValidatorName, pluginValidatorName } from '../schema-catalog.ts';
import { validator } from '../validators.ts';
import { isObject, parseJson, type JsonObject, type JsonValue } from '../safe-json.ts';
import { closestWord } from '../text.ts';
import { commonPluginFields } from './schemas/common.ts';
import { ipamCompletingPlugins, ipamSchemas, pluginSchemas } from './schemas/plugins.ts';
import { checkIpamSemantics, checkPluginSemantics } from './semantics.ts';
import type { CniVersion } from './version.ts';

/** A validated network configuration, normalized to a list of plugin configurations. */
export interface NetworkConfig {
  readonly kind: 'conf' | 'conflist';
  readonly name: string;
  readonly cniVersion: CniVersion;
  /** The plugins in execution order; for a single conf, the one plugin (the whole object). */
  readonly plugins: readonly JsonObject[];
  /** The configuration as given, with `name` filled in when it was defaulted. */
  readonly raw: JsonObject;
}

export interface ConfigValidation {
  readonly config: NetworkConfig;
  readonly warnings: readonly Problem[];
}

export interface ValidateOptions {
  /** Used when the configuration has no name (a NAD's config defaults to the NAD's name). */
  readonly defaultName?: string;
  /** Path prefix for messages; "$" by default. */
  readonly root?: string;
}

const validateConflist = validator('cni-conflist');
const validateSingle = validator('cni-conf');

/** The validator of a plugin or IPAM type's own fields, if the type is one lib/cni/schemas knows. */
function fieldsValidator(
  schemas: Readonly<Record<string, unknown>>,
  name: (type: string) => string,
  type: string,
): Validator | undefined {
  return Object.hasOwn(schemas, type) ? validator(name(type)) : undefined;
}

function warnUnknownFields(
  plugin: JsonObject,
  known: readonly string[],
  path: string,
  what: string,
  warnings: Problem[],
): void {
  for (const key of Object.keys(plugin)) {
    if (known.includes(key)) continue;
    const guess = closestWord(key, known);
    warnings.push({
      path: childPath(path, key),
      message: `unknown field for ${what}; the plugin ignores it${guess ? ` (did you mean "${guess}"?)` : ''}`,
    });
  }
}

function checkPlugin(plugin: JsonObject, path: string, problems: ProblemList, warnings: Problem[]): void {
  const type = plugin.type as string;
  const pluginValidator = fieldsValidator(pluginSchemas, pluginValidatorName, type);
  if (pluginValidator) {
    if (runSchema(pluginValidator, plugin, path, problems))
      checkPluginSemantics(type, plugin, path, problems, warnings);
    warnUnknownFields(
      plugin,
      [...commonPluginFields, ...Object.keys(pluginSchemas[type]!)],
      path,
      `the ${type} plugin`,
      warnings,
    );
  }
  const ipam = plugin.ipam;
  if (isObject(ipam)) {
    const ipamPath = childPath(path, 'ipam');
    if (ipamCompletingPlugins.has(type)) return;
    if (ipam.type === undefined) {
      problems.add(childPath(ipamPath, 'type'), 'is required');
      return;
    }
    const ipamType = ipam.type as string;
    const ipamValidator = fieldsValidator(ipamSchemas, ipamValidatorName, ipamType);
    if (ipamValidator) {
      if (runSchema(ipamValidator, ipam, ipamPath, problems)) {
        checkIpamSemantics(ipamType, ipam, plugin, ipamPath, problems, warnings);
      }
      warnUnknownFields(
        ipam,
        ['type', ...Object.keys(ipamSchemas[ipamType]!)],
        ipamPath,
        `${ipamType} IPAM`,
        warnings,
      );
    }
  }
}

/**
 * Validates a CNI network configuration (JSON text or parsed value). Throws a ValidationError with
 * every problem found; returns the normalized configuration and warnings otherwise.
 */
export function validateCniConfig(
  input: string | JsonValue,
  options: ValidateOptions = {},
): ConfigValidation {
  const root = options.root ?? '$';
  const value = typeof input === 'string' ? parseJson(input, root) : input;
  if (!isObject(value)) {
    throw ValidationError.single(
      root,
      `must be a JSON object (a CNI configuration), got ${describeType(value)}`,
    );
  }
  const raw: JsonObject =
    value.name === undefined && options.defaultName !== undefined
      ? { ...value, name: options.defaultName }
      : value;
  const problems = new ProblemList();
  const warnings: Problem[] = [];
  const isList = raw.plugins !== undefined;
  if (raw.name === undefined) {
    // libcni refuses a list without a name; a single .conf loads without one, but runtimes key caches on it.
    if (isList) problems.add(childPath(root, 'name'), 'is required');
    else
      warnings.push({
        path: childPath(root, 'name'),
        message: 'is missing; runtimes identify the network (and its cached results) by name',
      });
  }
  if (!runSchema(isList ? validateConflist : validateSingle, raw, root, problems)) problems.throwIfAny();
  const plugins = isList ? (raw.plugins as JsonObject[]) : [raw];
  plugins.forEach((plugin, index) => {
    const path = isList ? `${childPath(root, 'plugins')}[${index}]` : root;
    if (isList && plugin.cniVersion !== undefined && plugin.cniVersion !== raw.cniVersion) {
      warnings.push({
        path: childPath(path, 'cniVersion'),
        message: `${JSON.stringify(plugin.cniVersion)} differs from the list's ${JSON.stringify(raw.cniVersion)}; the list's version is used`,
      });
    }
    checkPlugin(plugin, path, problems, warnings);
  });
  problems.throwIfAny(warnings);
  return { config: networkConfigFrom(raw), warnings };
}

/**
 * The normalized form of a configuration that was validated before (a cached attachment's config):
 * no checks, so a DEL never fails because a later version checks more strictly than the ADD did.
 */
export function networkConfigFrom(raw: JsonObject, defaultName?: string): NetworkConfig {
  const isList = Array.isArray(raw.plugins);
  const named = raw.name === undefined && defaultName !== undefined ? { ...raw, name: defaultName } : raw;
  return {
    kind: isList ? 'conflist' : 'conf',
    name: typeof named.name === 'string' ? named.name : '',
    cniVersion: named.cniVersion as CniVersion,
    plugins: isList ? (named.plugins as JsonObject[]).filter(isObject) : [named],
    raw: named,
  };
}

/** The executables a configuration needs on the node: each plugin's type and each IPAM type. */
export function requiredBinaries(config: NetworkConfig): string[] {
  const names = new Set<string>();
  for (const plugin of config.plugins) {
    names.add(plugin.type as string);
    if (isObject(plugin.ipam) && typeof plugin.ipam.type === 'string') names.add(plugin.ipam.type);
  }
  return [...names];
}

/** Host interfaces a configuration refers to (macvlan/ipvlan/vlan master, host-device device). */
export function hostInterfaces(config: NetworkConfig): string[] {
  const names = new Set<string>();
  for (const plugin of config.plugins) {
    const linkInContainer = plugin.linkInContainer === true;
    if (
      ['macvlan', 'ipvlan', 'vlan'].includes(plugin.type as string) &&
      typeof plugin.master === 'string' &&
      !linkInContainer
    ) {
      names.add(plugin.master);
    }
    if (plugin.type === 'host-device' && typeof plugin.device === 'string') names.add(plugin.device);
  }
  return [...names];
}

/** Capabilities the configuration declares (capabilities: {ips: true, mac: true, ...}). */
export function declaredCapabilities(config: NetworkConfig): Set<string> {
  const out = new Set<string>();
  for (const plugin of config.plugins) {
    if (!isObject(plugin.capabilities)) continue;
    for (const [name, on] of Object.entries(plugin.capabilities)) if (on === true) out.add(name);
  }
  return out;
}
