/**
 * NetworkAttachmentDefinition (k8s.cni.cncf.io/v1) parsing and validation. `spec.config` holds a
 * CNI configuration as a string; it may be empty (multi-net-spec 3.4.1), in which case the node uses
 * the CNI config file whose network name equals the NAD's name. The config name defaults to the NAD name.
 */
import { resourceNameAnnotation } from './annotations/keys.ts';
import { validateCniConfig, type NetworkConfig } from './cni/config.ts';
import { ProblemList, ValidationError, errorMessage, type Problem } from './errors.ts';
import { childPath } from './json-path.ts';
import { dns1123LabelError, dns1123SubdomainError, extendedResourceNameError } from './k8s/names.ts';
import { isObject, type JsonObject } from './safe-json.ts';

export const nadGroup = 'k8s.cni.cncf.io';
export const nadVersion = 'v1';
export const nadApiVersion = `${nadGroup}/${nadVersion}`;
export const nadKind = 'NetworkAttachmentDefinition';
export const nadPlural = 'network-attachment-definitions';

export interface NadMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface NetworkAttachmentDefinition {
  apiVersion: string;
  kind: string;
  metadata: NadMetadata;
  spec?: { config?: string };
  status?: JsonObject;
}

export interface NadValidation {
  readonly name: string;
  readonly namespace: string;
  /** The validated configuration; undefined when spec.config is empty (the node's config file is used). */
  readonly config: NetworkConfig | undefined;
  /** The device plugin resource its attachments take a device of (the resourceName annotation). */
  readonly resourceName?: string;
  readonly warnings: readonly Problem[];
}

/** The largest spec.config accepted: far above real configs, well under etcd's object limit. */
const maxConfigBytes = 512 * 1024;

/**
 * Validates a NAD object. `defaultNamespace` fills in a missing metadata.namespace (as kubectl does).
 * Throws a ValidationError naming each bad field (`metadata.name`, `spec.config.ipam.rangeStart`).
 */
export function validateNad(object: unknown, defaultNamespace = 'default'): NadValidation {
  const problems = new ProblemList();
  if (!isObject(object)) throw ValidationError.single('', 'must be a NetworkAttachmentDefinition object');
  if (object.apiVersion !== nadApiVersion) {
    problems.add(
      'apiVersion',
      `must be ${JSON.stringify(nadApiVersion)} (got ${JSON.stringify(object.apiVersion)})`,
    );
  }
  if (object.kind !== nadKind)
    problems.add('kind', `must be ${JSON.stringify(nadKind)} (got ${JSON.stringify(object.kind)})`);
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const warnings: Problem[] = [];
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const nameError = typeof metadata.name === 'string' ? dns1123SubdomainError(name) : 'is required';
  if (nameError) problems.add('metadata.name', nameError);
  else if (dns1123LabelError(name)) {
    warnings.push({
      path: 'metadata.name',
      message: `${JSON.stringify(name)} is not a DNS-1123 label (it has '.'), so pods cannot select it in the networks annotation`,
    });
  }
  const namespace = metadata.namespace === undefined ? defaultNamespace : metadata.namespace;
  if (typeof namespace !== 'string' || dns1123LabelError(namespace)) {
    problems.add(
      'metadata.namespace',
      typeof namespace === 'string' ? dns1123LabelError(namespace)! : 'must be a string',
    );
  }
  const resourceName = resourceNameOf(metadata, problems);
  const spec = object.spec;
  if (spec !== undefined && !isObject(spec)) problems.add('spec', 'must be an object with a "config" string');
  const configText = isObject(spec) ? spec.config : undefined;
  if (configText !== undefined && typeof configText !== 'string') {
    problems.add('spec.config', 'must be a string holding the CNI configuration as JSON (quote it in YAML)');
  }
  problems.throwIfAny();
  const device = resourceName !== undefined ? { resourceName } : {};
  if (typeof configText !== 'string' || configText.trim() === '') {
    return { name, namespace: namespace as string, config: undefined, ...device, warnings };
  }
  if (Buffer.byteLength(configText, 'utf8') > maxConfigBytes) {
    throw ValidationError.single('spec.config', `is larger than ${maxConfigBytes} bytes`);
  }
  let validation;
  try {
    validation = validateCniConfig(configText, { defaultName: name, root: 'spec.config' });
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ValidationError(err.problems, [...warnings, ...err.warnings]);
    throw err;
  }
  return {
    name,
    namespace: namespace as string,
    config: validation.config,
    ...device,
    warnings: [...warnings, ...validation.warnings],
  };
}

/** The resourceName annotation, checked: a device plugin resource name (problems name the annotation). */
function resourceNameOf(metadata: JsonObject, problems: ProblemList): string | undefined {
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const value = annotations[resourceNameAnnotation];
  if (value === undefined) return undefined;
  const path = childPath('metadata.annotations', resourceNameAnnotation);
  if (typeof value !== 'string') {
    problems.add(path, 'must be a string');
    return undefined;
  }
  const error = extendedResourceNameError(value);
  if (error) problems.add(path, error);
  return error ? undefined : value;
}

/** The verdict on a NAD without throwing: what the webhook, the controller and the agent all act on. */
export type NadCheck =
  | ({ readonly accepted: true } & NadValidation)
  | {
      readonly accepted: false;
      /** Every problem, each with its path (metadata.name, spec.config.ipam.rangeEnd, ...). */
      readonly problems: readonly Problem[];
      readonly warnings: readonly Problem[];
    };

export function checkNad(object: unknown, defaultNamespace = 'default'): NadCheck {
  try {
    return { accepted: true, ...validateNad(object, defaultNamespace) };
  } catch (err) {
    if (err instanceof ValidationError)
      return { accepted: false, problems: err.problems, warnings: err.warnings };
    return { accepted: false, problems: [{ path: '', message: errorMessage(err) }], warnings: [] };
  }
}

/** Plugin types joined by "+", read loosely so that an invalid config still shows what it is. */
export function pluginTypeOf(configText: string | undefined): string {
  if (!configText || configText.trim() === '') return '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(configText);
  } catch {
    return '';
  }
  if (!isObject(parsed)) return '';
  const plugins = Array.isArray(parsed.plugins) ? parsed.plugins : [parsed];
  return plugins
    .map((p) => (isObject(p) && typeof p.type === 'string' ? p.type : '?'))
    .join('+')
    .slice(0, 256);
}
