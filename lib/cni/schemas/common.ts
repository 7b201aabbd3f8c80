/**
 * JSON schemas shared by every CNI configuration: the network configuration list, a single plugin
 * configuration, and the fields every plugin may carry (CNI spec, "Network configuration format").
 */
import { supportedCniVersions } from '../version.ts';

export type Schema = Record<string, unknown>;

/** A plugin or IPAM type names an executable in the CNI bin dirs: a bare name, never a path. */
const pluginTypeSchema: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9_][A-Za-z0-9._+-]*$',
  'x-message':
    "must be a bare plugin name (letters, digits, '.', '_', '+', '-'; no '/' or '..'): it names an executable in the CNI bin dir",
};

const cniVersionSchema: Schema = {
  type: 'string',
  enum: [...supportedCniVersions],
  'x-message': `must be one of ${supportedCniVersions.join(', ')}`,
};

const networkNameSchema: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
  'x-message': "must start with a letter or digit and hold only letters, digits, '_', '.' and '-'",
};

export const stringList: Schema = { type: 'array', items: { type: 'string' } };

const dnsSchema: Schema = {
  type: 'object',
  properties: {
    nameservers: stringList,
    domain: { type: 'string' },
    search: stringList,
    options: stringList,
  },
};

export const routeSchema: Schema = {
  type: 'object',
  required: ['dst'],
  properties: {
    dst: { type: 'string' },
    gw: { type: 'string' },
    mtu: { type: 'integer', minimum: 0 },
    advmss: { type: 'integer', minimum: 0 },
    priority: { type: 'integer', minimum: 0 },
    table: { type: 'integer', minimum: 0 },
    scope: { type: 'integer', minimum: 0, maximum: 255 },
  },
};

/** `type` is required too, except for plugins that complete their delegate's IPAM (config.ts checks it). */
const ipamBaseSchema: Schema = {
  type: 'object',
  properties: { type: pluginTypeSchema },
};

/** Fields any plugin configuration may hold, whatever its type. */
const pluginCommonSchema: Schema = {
  type: 'object',
  required: ['type'],
  properties: {
    cniVersion: { type: 'string' },
    name: { type: 'string' },
    type: pluginTypeSchema,
    ipam: ipamBaseSchema,
    dns: dnsSchema,
    capabilities: { type: 'object', additionalProperties: { type: 'boolean' } },
    runtimeConfig: { type: 'object' },
    args: { type: 'object' },
    prevResult: { type: 'object' },
  },
};

export const commonPluginFields = Object.keys(pluginCommonSchema.properties as Schema);

/** A network configuration list (.conflist). `name` may be left out in a NAD: it defaults to the NAD's name. */
export const conflistSchema: Schema = {
  type: 'object',
  required: ['cniVersion', 'plugins'],
  properties: {
    cniVersion: cniVersionSchema,
    cniVersions: { type: 'array', items: cniVersionSchema },
    name: networkNameSchema,
    disableCheck: { type: 'boolean' },
    disableGC: { type: 'boolean' },
    loadOnlyInlinedPlugins: { type: 'boolean' },
    plugins: { type: 'array', minItems: 1, maxItems: 64, items: pluginCommonSchema },
  },
};

/** A single plugin configuration (.conf), the form the seed's NAD uses. */
export const singleConfSchema: Schema = {
  type: 'object',
  required: ['cniVersion', 'type'],
  properties: {
    ...(pluginCommonSchema.properties as Schema),
    cniVersion: cniVersionSchema,
    name: networkNameSchema,
  },
};
