/**
 * The `k8s.v1.cni.cncf.io/network-status` annotation (multi-net-spec v1.3 section 4.1.2.3): one
 * entry per attachment, built from the delegate's CNI result.
 */
import type { CniDns, CniResult } from './cni/result.ts';
import { formatIp, parseCidr } from './net/ip.ts';
import { isObject } from './safe-json.ts';

export interface DeviceInfo {
  type?: string;
  version?: string;
  pci?: Record<string, string>;
  vdpa?: Record<string, string>;
  'vhost-user'?: Record<string, string>;
  memif?: Record<string, string>;
}

export interface NetworkStatus {
  /** `namespace/name` of the NAD, or the network name of a default network read from disk. */
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  mtu?: number;
  default?: boolean;
  dns?: CniDns;
  gateway?: string[];
  'device-info'?: DeviceInfo;
}

export interface StatusInput {
  readonly name: string;
  /** The interface name the delegate was asked for (CNI_IFNAME). */
  readonly ifName: string;
  readonly isDefault: boolean;
  readonly deviceInfo?: DeviceInfo;
}

function stripPrefix(address: string): string {
  const prefix = parseCidr(address);
  return prefix ? formatIp({ family: prefix.family, value: prefix.address }) : address;
}

/**
 * Entries for one attachment. Every container-side interface of the result (one with a sandbox)
 * gets an entry with its addresses; a result without such interfaces gets one entry for ifName
 * with all the result's addresses, as Multus does.
 */
export function networkStatusFromResult(result: CniResult, input: StatusInput): NetworkStatus[] {
  const interfaces = result.interfaces ?? [];
  const ips = result.ips ?? [];
  const containerSide = interfaces
    .map((iface, index) => ({ iface, index }))
    .filter(({ iface }) => typeof iface.sandbox === 'string' && iface.sandbox !== '');
  const entry = (
    ifName: string,
    mac: string | undefined,
    mtu: number | undefined,
    pick: typeof ips,
  ): NetworkStatus => {
    const gateways = pick
      .map((ip) => ip.gateway)
      .filter((gw): gw is string => typeof gw === 'string' && gw !== '');
    const status: NetworkStatus = { name: input.name, interface: ifName };
    if (pick.length > 0) status.ips = pick.map((ip) => stripPrefix(ip.address));
    if (mac) status.mac = mac;
    if (mtu) status.mtu = mtu;
    if (input.isDefault) status.default = true;
    status.dns = isObject(result.dns) ? result.dns : {};
    if (gateways.length > 0) status.gateway = gateways;
    if (input.deviceInfo) status['device-info'] = input.deviceInfo;
    return status;
  };
  if (containerSide.length === 0) return [entry(input.ifName, undefined, undefined, ips)];
  return containerSide.map(({ iface, index }) =>
    entry(
      iface.name,
      iface.mac,
      iface.mtu,
      ips.filter((ip) => ip.interface === undefined || ip.interface === index),
    ),
  );
}

/** Parses an existing annotation value leniently (a broken value written by someone else is ignored). */
export function parseNetworkStatusAnnotation(value: string | undefined): NetworkStatus[] {
  if (!value) return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed)
      ? parsed.filter((s): s is NetworkStatus => isObject(s) && typeof s.name === 'string')
      : [];
  } catch {
    return [];
  }
}
