/**
 * The one translation of JSON schema errors to problems (a JSON path and a message that says what to
 * fix), for every JSON schema of the domain: CNI configurations and the network selection element.
 * The validators themselves are ajv's code generated at build time (lib/schema-compiler.ts, run by
 * `npm run build:validators`), so no process loads ajv's compiler. Schemas shape their messages with
 * keywords of their own:
 *
 *   x-message    enum/pattern/length failures say this, then "(got <value>)" (CNI schemas)
 *   x-problem    any failure of the node's own type/size/range/pattern keywords says exactly this;
 *                "{data}" stands for the value as JSON
 *   x-unknown    what an unknown key (additionalProperties: false) is told, at the key's path
 *   x-required   what a missing required key is told (default "is required"), at the key's path
 *   x-dependent  what a key missing the partner its `dependencies` names is told; "{missing}" names it
 *   x-check      the name of a check (registerCheck) that returns a message for a bad value
 */
import type { ErrorObject } from 'ajv';
import type { Problem, ProblemList } from './errors.ts';
import { childPath, fromPointer } from './json-path.ts';

/** A validator generated from a schema: true for a good value, else false with its errors. */
export interface Validator {
  (value: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** A value check for x-check: the message for a bad value, undefined for a good one. */
export type SchemaCheck = (value: unknown) => string | undefined;

const checks = new Map<string, SchemaCheck>();

/** Makes a check available to schemas as `'x-check': name`. */
export function registerCheck(name: string, check: SchemaCheck): void {
  checks.set(name, check);
}

/** What the generated validators call for `'x-check': name`: the check's message, if any. */
export function runCheck(name: string, value: unknown): string | undefined {
  const check = checks.get(name);
  if (!check) throw new Error(`no schema check named ${JSON.stringify(name)}`);
  return check(value);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function withArticle(type: string): string {
  const names: Record<string, string> = {
    object: 'an object',
    array: 'a list',
    integer: 'an integer',
    string: 'a string',
    boolean: 'true or false',
    number: 'a number',
  };
  return names[type] ?? type;
}

const fill = (template: string, values: Record<string, string>): string =>
  template.replace(/\{(\w+)\}/g, (all, name: string) => values[name] ?? all);

/** The problem one ajv error stands for. */
function schemaProblem(root: string, error: ErrorObject): Problem {
  const path = fromPointer(root, error.instancePath);
  const schema = (error.parentSchema ?? {}) as Record<string, unknown>;
  const custom = schema['x-message'];
  const problem = schema['x-problem'];
  switch (error.keyword) {
    case 'x-check':
      return { path, message: error.message ?? 'is invalid' };
    case 'required':
      return {
        path: childPath(path, (error.params as { missingProperty: string }).missingProperty),
        message: typeof schema['x-required'] === 'string' ? schema['x-required'] : 'is required',
      };
    case 'additionalProperties':
      return {
        path: childPath(path, (error.params as { additionalProperty: string }).additionalProperty),
        message: typeof schema['x-unknown'] === 'string' ? schema['x-unknown'] : 'unknown field',
      };
    case 'dependencies': {
      const params = error.params as { property: string; missingProperty: string };
      const template = schema['x-dependent'];
      return {
        path: childPath(path, params.property),
        message:
          typeof template === 'string'
            ? fill(template, { missing: params.missingProperty })
            : `needs ${params.missingProperty}`,
      };
    }
  }
  if (typeof problem === 'string')
    return { path, message: fill(problem, { data: JSON.stringify(error.data) }) };
  switch (error.keyword) {
    case 'type':
      return {
        path,
        message: `must be ${withArticle((error.params as { type: string }).type)} (got ${describeType(error.data)})`,
      };
    case 'enum':
    case 'pattern':
    case 'minLength':
    case 'maxLength': {
      const got = ` (got ${JSON.stringify(error.data)})`;
      if (typeof custom === 'string') return { path, message: `${custom}${got}` };
      if (error.keyword !== 'enum') return { path, message: error.message ?? 'is invalid' };
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return { path, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}${got}` };
    }
    default:
      return { path, message: error.message ?? 'is invalid' };
  }
}

/** The problems of a value, one per path and message (a node failing two keywords says it once). */
export function schemaProblems(validate: Validator, value: unknown, root: string): Problem[] {
  if (validate(value)) return [];
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const error of validate.errors ?? []) {
    const problem = schemaProblem(root, error);
    const key = `${problem.path}\n${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(problem);
  }
  return out;
}

/** Adds the value's problems to the list; true when there were none. */
export function runSchema(validate: Validator, value: unknown, root: string, problems: ProblemList): boolean {
  const found = schemaProblems(validate, value, root);
  for (const problem of found) problems.add(problem.path, problem.message);
  return found.length === 0;
}
