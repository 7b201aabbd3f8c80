/**
 * The validators of lib/schema-catalog.ts, from the code `npm run build:validators` generated
 * (lib/generated/validators.ts): each is created on first use, after checking that its schema is the
 * one it was generated from, so a schema edited since the last generation fails loudly, never silently.
 */
import { factories, hashes } from './generated/validators.ts';
import type { Schema } from './cni/schemas/common.ts';
import type { Validator } from './schema.ts';
import { schemaHash, validatorSchemas } from './schema-catalog.ts';

export interface GeneratedValidators {
  readonly factories: Readonly<Record<string, () => Validator>>;
  readonly hashes: Readonly<Record<string, string>>;
}

/** Looks validators up by name in generated code, checked against these schemas. */
export function validatorTable(
  schemas: Readonly<Record<string, Schema>>,
  generated: GeneratedValidators,
): (name: string) => Validator {
  const created = new Map<string, Validator>();
  return (name) => {
    let validate = created.get(name);
    if (validate) return validate;
    const schema = Object.hasOwn(schemas, name) ? schemas[name] : undefined;
    if (!schema) throw new Error(`no schema named ${JSON.stringify(name)} in lib/schema-catalog.ts`);
    const factory = Object.hasOwn(generated.factories, name) ? generated.factories[name] : undefined;
    if (!factory || generated.hashes[name] !== schemaHash(schema))
      throw new Error(
        `the generated validator ${JSON.stringify(name)} is ${factory ? 'out of date' : 'missing'} (lib/generated/validators.ts): run \`npm run build:validators\``,
      );
    created.set(name, (validate = factory()));
    return validate;
  };
}

/** The validator of a catalogue schema; throws when the generated code is missing or out of date. */
export const validator = validatorTable(validatorSchemas, { factories, hashes });
