/**
 * Every JSON schema the domain validates against, by validator name: the one list that
 * `npm run build:validators` generates code for (lib/schema-compiler.ts) and that lib/validators.ts
 * checks the generated code against, so a schema changed since the last generation is noticed.
 */
import { createHash } from 'node:crypto';
import { selectionElementSchema } from './annotations/selection-schema.ts';
import { conflistSchema, singleConfSchema, type Schema } from './cni/schemas/common.ts';
import { ipamSchemas, pluginRequired, pluginSchemas } from './cni/schemas/plugins.ts';

/** The validator of a plugin type's own fields (lib/cni/schemas/plugins.ts). */
export const pluginValidatorName = (type: string): string => `plugin:${type}`;
/** The validator of an IPAM type's fields. */
export const ipamValidatorName = (type: string): string => `ipam:${type}`;

const fieldsSchema = (properties: Schema, required: readonly string[] = []): Schema => ({
  type: 'object',
  properties,
  required: [...required],
});

export const validatorSchemas: Readonly<Record<string, Schema>> = {
  'cni-conflist': conflistSchema,
  'cni-conf': singleConfSchema,
  'selection-element': selectionElementSchema,
  ...Object.fromEntries(
    Object.entries(pluginSchemas).map(([type, properties]) => [
      pluginValidatorName(type),
      fieldsSchema(properties, pluginRequired[type]),
    ]),
  ),
  ...Object.fromEntries(
    Object.entries(ipamSchemas).map(([type, properties]) => [
      ipamValidatorName(type),
      fieldsSchema(properties),
    ]),
  ),
};

/** A schema's fingerprint: the generated code records it, the loader compares it. */
export function schemaHash(schema: Schema): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 16);
}
