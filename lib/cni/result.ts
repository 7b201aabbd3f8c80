/**
 * CNI results (the JSON a plugin prints after ADD): parsing, and conversion between the 0.3.x/0.4.0
 * shape (ips[].version) and the 1.x shape. Results in the pre-0.3 shape (ip4/ip6) are refused.
 */
import { CniError, CniErrorCode } from './error.ts';
import { isSupportedCniVersion, isV1, type CniVersion } from './version.ts';
import { parseCidr, parseIp } from '../net/ip.ts';
import { isObject, type JsonObject } from '../safe-json.ts';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
  /** Only in 0.3.x/0.4.0 results. */
  version?: '4' | '6';
}

export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

function fail(message: string): never {
  throw new CniError(CniErrorCode.decodeFailure, `invalid CNI result: ${message}`);
}

/** Reads a plugin's result; `expectedVersion` is used when the result omits cniVersion. */
export function parseCniResult(value: unknown, expectedVersion?: string): CniResult {
  if (!isObject(value)) fail('not a JSON object');
  if ('ip4' in value || 'ip6' in value) {
    throw new CniError(
      CniErrorCode.incompatibleVersion,
      'the plugin returned a CNI 0.2.0 result (ip4/ip6); multinet needs 0.3.0 or later',
    );
  }
  const version = value.cniVersion ?? expectedVersion;
  if (!isSupportedCniVersion(version)) {
    throw new CniError(
      CniErrorCode.incompatibleVersion,
      `unsupported CNI result version ${JSON.stringify(version)}`,
    );
  }
  const result: CniResult = { cniVersion: version };
  if (value.interfaces !== undefined) {
    if (!Array.isArray(value.interfaces)) fail('"interfaces" is not a list');
    result.interfaces = value.interfaces.map((entry, i) => {
      if (!isObject(entry) || typeof entry.name !== 'string') fail(`interfaces[${i}] has no name`);
      return entry as unknown as CniInterface;
    });
  }
  if (value.ips !== undefined) {
    if (!Array.isArray(value.ips)) fail('"ips" is not a list');
    result.ips = value.ips.map((entry, i) => {
      if (!isObject(entry) || typeof entry.address !== 'string' || !parseCidr(entry.address)) {
        fail(`ips[${i}].address is not a CIDR`);
      }
      if (
        entry.interface !== undefined &&
        (typeof entry.interface !== 'number' || !result.interfaces?.[entry.interface])
      ) {
        fail(`ips[${i}].interface does not point at an entry of "interfaces"`);
      }
      return entry as unknown as CniIpConfig;
    });
  }
  if (value.routes !== undefined) {
    if (!Array.isArray(value.routes)) fail('"routes" is not a list');
    result.routes = value.routes as unknown as CniRoute[];
  }
  if (value.dns !== undefined) {
    if (!isObject(value.dns)) fail('"dns" is not an object');
    result.dns = value.dns;
  }
  return result;
}

const v1OnlyRouteFields = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const v1OnlyInterfaceFields = ['mtu', 'socketPath', 'pciID'] as const;

/** Converts a result to another supported version, as libcni's convert package does. */
export function convertCniResult(result: CniResult, to: CniVersion): CniResult {
  const out: CniResult = { ...result, cniVersion: to };
  if (isV1(to)) {
    if (result.ips) out.ips = result.ips.map(({ version: _version, ...ip }) => ip);
    return out;
  }
  if (result.ips) {
    out.ips = result.ips.map((ip) => {
      const family = parseCidr(ip.address)?.family ?? parseIp(ip.address)?.family;
      if (family === undefined)
        throw new CniError(
          CniErrorCode.decodeFailure,
          `invalid address ${JSON.stringify(ip.address)} in result`,
        );
      return { ...ip, version: family === 4 ? '4' : '6' };
    });
  }
  if (result.routes) {
    out.routes = result.routes.map((route) => {
      const copy: CniRoute = { ...route };
      for (const field of v1OnlyRouteFields) delete copy[field];
      return copy;
    });
  }
  if (result.interfaces) {
    out.interfaces = result.interfaces.map((iface) => {
      const copy: CniInterface = { ...iface };
      for (const field of v1OnlyInterfaceFields) delete copy[field];
      return copy;
    });
  }
  return out;
}

/**
 * The result as JSON for stdout or a cache file. No copy is made: parseCniResult and
 * convertCniResult build results only from parsed JSON values (never undefined, never shared with
 * anything that mutates them), so the result already is a JSON object.
 */
export function resultToJson(result: CniResult): JsonObject {
  return result as unknown as JsonObject;
}
