/**
 * The network selection annotation `k8s.v1.cni.cncf.io/networks` (multi-net-spec v1.3 section
 * 4.1.2 plus Multus' `@ifname`): the comma form `name`, `ns/name`, `ns/name@ifname`, or a JSON
 * list of network selection elements. Parsing normalizes both forms to the same elements.
 */
import { ProblemList, ValidationError, type Problem } from '../errors.ts';
import { childPath } from '../json-path.ts';
import { dns1123LabelError } from '../k8s/names.ts';
import { recall, remember } from '../lru.ts';
import { checkShape, isObject, type JsonObject, type JsonValue } from '../safe-json.ts';
import { schemaProblems } from '../schema.ts';
import { interfaceNameError } from './interface-name.ts';
import { validator } from '../validators.ts';
import { selectionFields } from './selection-schema.ts';

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol?: string;
  readonly hostIP?: string;
}

export interface Bandwidth {
  readonly ingressRate?: number;
  readonly ingressBurst?: number;
  readonly egressRate?: number;
  readonly egressBurst?: number;
}

/** A normalized network selection element: the spec's JSON keys, namespace always filled in. */
export interface NetworkSelectionElement {
  readonly name: string;
  readonly namespace: string;
  readonly interface?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly 'infiniband-guid'?: string;
  readonly 'default-route'?: readonly string[];
  readonly portMappings?: readonly PortMapping[];
  readonly bandwidth?: Bandwidth;
  readonly 'cni-args'?: JsonObject;
  readonly 'ipam-claim-reference'?: string;
  /** Implementation-specific keys in reverse-DNS form (spec 4.1.2.1), kept as given. */
  readonly extensions?: Readonly<Record<string, JsonValue>>;
}

/** The most elements one annotation may select; far above any real pod, low enough to bound work. */
export const maxNetworkSelections = 128;
/** Kubernetes caps all annotations of an object at 256 KiB together. */
const maxAnnotationBytes = 256 * 1024;

/**
 * Recent parses, by root, namespace and value: the pods of one Deployment carry the same annotation,
 * and the webhook and the agent parse each of them. Bounded in entries and in the size of a value
 * (a larger one is parsed every time); the elements are frozen, so no caller can change another's.
 */
const recent = new Map<string, { readonly elements: readonly NetworkSelectionElement[] } | ValidationError>();
const recentEntries = 256;
const recentValueChars = 4096;

/**
 * Parses and validates the annotation value. `defaultNamespace` is the pod's namespace. Throws a
 * ValidationError whose problems name the element index and field (`networks[1].interface`).
 */
export function parseNetworksAnnotation(
  value: string,
  defaultNamespace: string,
  root = 'networks',
): readonly NetworkSelectionElement[] {
  if (typeof value !== 'string') throw ValidationError.single(root, 'must be a string');
  if (value.length > recentValueChars) return parse(value, defaultNamespace, root);
  const key = `${root}\n${defaultNamespace}\n${value}`;
  let outcome = recall(recent, key);
  if (!outcome) {
    try {
      outcome = {
        elements: Object.freeze(parse(value, defaultNamespace, root).map((e) => Object.freeze(e))),
      };
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      outcome = err;
    }
    remember(recent, key, outcome, recentEntries);
  }
  if (outcome instanceof ValidationError) throw outcome;
  return outcome.elements;
}

function parse(value: string, defaultNamespace: string, root: string): NetworkSelectionElement[] {
  if (Buffer.byteLength(value, 'utf8') > maxAnnotationBytes) {
    throw ValidationError.single(root, `is larger than ${maxAnnotationBytes} bytes`);
  }
  const trimmed = value.trim();
  if (trimmed === '') return [];
  const elements = /^[[{"]/.test(trimmed)
    ? parseJsonForm(trimmed, defaultNamespace, root)
    : parseCommaForm(trimmed, defaultNamespace, root);
  checkCrossElementRules(elements, root);
  return elements;
}

function parseCommaForm(value: string, defaultNamespace: string, root: string): NetworkSelectionElement[] {
  const items = value.split(',');
  checkCount(items.length, root);
  const problems = new ProblemList();
  const elements: NetworkSelectionElement[] = [];
  items.forEach((raw, index) => {
    const path = `${root}[${index}]`;
    const item = raw.trim();
    if (item === '') {
      problems.add(path, 'empty item (two commas in a row, or a trailing comma)');
      return;
    }
    const slash = item.split('/');
    if (slash.length > 2) {
      problems.add(
        path,
        `${JSON.stringify(item)} has more than one '/'; use name, namespace/name or namespace/name@interface`,
      );
      return;
    }
    const [namespacePart, rest] = slash.length === 2 ? [slash[0]!.trim(), slash[1]!] : [undefined, slash[0]!];
    const at = rest.split('@');
    if (at.length > 2) {
      problems.add(path, `${JSON.stringify(item)} has more than one '@'; use namespace/name@interface`);
      return;
    }
    const name = at[0]!.trim();
    const ifname = at.length === 2 ? at[1]!.trim() : undefined;
    const before = problems.items.length;
    const check = (at: string, error: string | undefined): void => {
      if (error) problems.add(`${path}.${at}`, error);
    };
    check('name', dns1123LabelError(name));
    if (namespacePart !== undefined) check('namespace', dns1123LabelError(namespacePart));
    if (ifname !== undefined) check('interface', interfaceNameError(ifname));
    if (problems.items.length > before) return;
    elements.push({
      name,
      namespace: namespacePart ?? defaultNamespace,
      ...(ifname !== undefined ? { interface: ifname } : {}),
    });
  });
  problems.throwIfAny();
  return elements;
}

function parseJsonForm(value: string, defaultNamespace: string, root: string): NetworkSelectionElement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw ValidationError.single(
      root,
      `is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  checkShape(parsed, root);
  if (!Array.isArray(parsed)) {
    throw ValidationError.single(
      root,
      'must be a JSON list of network selection elements, e.g. [{"name":"macvlan-conf"}]',
    );
  }
  checkCount(parsed.length, root);
  const problems = new ProblemList();
  const elements: NetworkSelectionElement[] = [];
  parsed.forEach((item, index) => {
    const element = parseElement(problems, `${root}[${index}]`, item, defaultNamespace);
    if (element) elements.push(element);
  });
  problems.throwIfAny();
  return elements;
}

/**
 * One network selection element outside an annotation (a ResourceClaim's opaque config, see lib/dra.ts):
 * the same schema and messages, problems named below `path`. Throws a ValidationError.
 */
export function parseSelectionElement(
  item: unknown,
  path: string,
  defaultNamespace: string,
): NetworkSelectionElement {
  const problems = new ProblemList();
  const element = parseElement(problems, path, item, defaultNamespace);
  problems.throwIfAny();
  return element!;
}

function checkCount(count: number, root: string): void {
  if (count > maxNetworkSelections) {
    throw ValidationError.single(
      root,
      `selects ${count} networks; at most ${maxNetworkSelections} are allowed`,
    );
  }
}

function parseElement(
  problems: ProblemList,
  path: string,
  item: unknown,
  defaultNamespace: string,
): NetworkSelectionElement | undefined {
  const found = schemaProblems(validator('selection-element'), item, path);
  if (!isObject(item)) {
    for (const problem of found) problems.add(problem.path, problem.message);
    return undefined;
  }
  const ips = childPath(path, 'ips');
  const claim = childPath(path, 'ipam-claim-reference');
  const fieldOk = (at: string): boolean =>
    !found.some((p) => p.path === at || p.path.startsWith(`${at}[`) || p.path.startsWith(`${at}.`));
  if (
    item.ips !== undefined &&
    item['ipam-claim-reference'] !== undefined &&
    fieldOk(ips) &&
    fieldOk(claim)
  ) {
    found.push({
      path: ips,
      message: 'cannot be combined with "ipam-claim-reference": the claim decides the addresses',
    });
  }
  if (found.length > 0) {
    // In the order of the element's keys (a missing name, then the cross-field rule, last).
    const keys = Object.keys(item);
    const rank = (problem: Problem): number => {
      if (problem.message.startsWith('cannot be combined')) return keys.length + 1;
      const index = keys.findIndex((key) => {
        const at = childPath(path, key);
        return problem.path === at || problem.path.startsWith(`${at}.`) || problem.path.startsWith(`${at}[`);
      });
      return index < 0 ? keys.length : index;
    };
    for (const problem of [...found].sort((a, b) => rank(a) - rank(b)))
      problems.add(problem.path, problem.message);
    return undefined;
  }
  const fields: Record<string, unknown> = {};
  const extensions: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(item)) {
    if ((selectionFields as readonly string[]).includes(key)) fields[key] = value;
    else extensions[key] = value;
  }
  const { name, namespace, ...rest } = fields as { name: string; namespace?: string };
  return {
    name,
    namespace: namespace ?? defaultNamespace,
    ...rest,
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
  };
}

function checkCrossElementRules(elements: readonly NetworkSelectionElement[], root: string): void {
  const problems = new ProblemList();
  const seen = new Map<string, number>();
  let defaultRouteAt: number | undefined;
  elements.forEach((element, index) => {
    if (element.interface !== undefined) {
      const first = seen.get(element.interface);
      if (first !== undefined) {
        problems.add(
          `${root}[${index}].interface`,
          `${JSON.stringify(element.interface)} is already used by ${root}[${first}]; interface names must be unique in a pod`,
        );
      } else {
        seen.set(element.interface, index);
      }
    }
    if (element['default-route'] !== undefined) {
      if (defaultRouteAt !== undefined) {
        problems.add(
          `${root}[${index}].default-route`,
          `${root}[${defaultRouteAt}] already sets the default route; only one network may`,
        );
      } else {
        defaultRouteAt = index;
      }
    }
  });
  problems.throwIfAny();
}

/** True when the element carries nothing beyond what the comma form can say. */
function isSimple(element: NetworkSelectionElement): boolean {
  return Object.keys(element).every((key) => key === 'name' || key === 'namespace' || key === 'interface');
}

/** The element as it appears in the JSON form (extensions inline again). */
export function toJsonElement(element: NetworkSelectionElement): JsonObject {
  const { extensions, ...fields } = element;
  return { ...(fields as unknown as JsonObject), ...(extensions ?? {}) };
}

/**
 * Prints elements as an annotation value: the comma form when every element is simple, else the JSON
 * form. Parsing the output with the same default namespace gives the same elements back.
 */
export function formatNetworksAnnotation(elements: readonly NetworkSelectionElement[]): string {
  if (elements.every(isSimple)) {
    return elements
      .map((e) => `${e.namespace}/${e.name}${e.interface !== undefined ? `@${e.interface}` : ''}`)
      .join(',');
  }
  return JSON.stringify(elements.map(toJsonElement));
}
