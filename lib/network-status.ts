/**
 * The `k8s.v1.cni.cncf.io/network-status` annotation (multi-net-spec v1.3 section 4.1.2.3): one
 * entry per attachment, built from the delegate's CNI result.
 */
import type { CniDns, CniIpConfig, CniResult } from './cni/result.ts';
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

/** One pod-side interface of a CNI result, with the result's addresses that belong to it. */
export interface ResultInterface {
  readonly name: string;
  readonly mac: string | undefined;
  readonly mtu: number | undefined;
  readonly ips: readonly CniIpConfig[];
}

/**
 * The pod-side interfaces of an attachment's result: every interface with a sandbox, with its
 * addresses; a result without such interfaces is one interface, ifName, with all the result's
 * addresses, as Multus reads it. network-status and a ResourceClaim's networkData both read it.
 */
export function resultInterfaces(result: CniResult, ifName: string): ResultInterface[] {
  const interfaces = result.interfaces ?? [];
  const ips = result.ips ?? [];
  const containerSide = interfaces
    .map((iface, index) => ({ iface, index }))
    .filter(({ iface }) => typeof iface.sandbox === 'string' && iface.sandbox !== '');
  if (containerSide.length === 0) return [{ name: ifName, mac: undefined, mtu: undefined, ips }];
  return containerSide.map(({ iface, index }) => ({
    name: iface.name,
    mac: iface.mac,
    mtu: iface.mtu,
    ips: ips.filter((ip) => ip.interface === undefined || ip.interface === index),
  }));
}

/** Entries for one attachment: one per pod-side interface of its result (resultInterfaces). */
export function networkStatusFromResult(result: CniResult, input: StatusInput): NetworkStatus[] {
  return resultInterfaces(result, input.ifName).map(({ name, mac, mtu, ips: pick }) => {
    const gateways = pick
      .map((ip) => ip.gateway)
      .filter((gw): gw is string => typeof gw === 'string' && gw !== '');
    const status: NetworkStatus = { name: input.name, interface: name };
    if (pick.length > 0) status.ips = pick.map((ip) => stripPrefix(ip.address));
    if (mac) status.mac = mac;
    if (mtu) status.mtu = mtu;
    if (input.isDefault) status.default = true;
    status.dns = isObject(result.dns) ? result.dns : {};
    if (gateways.length > 0) status.gateway = gateways;
    if (input.deviceInfo) status['device-info'] = input.deviceInfo;
    return status;
  });
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
