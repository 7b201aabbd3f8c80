/**
 * The local node's stand-in SR-IOV VFs (`multinet dev node --vfs N`): links the harness makes on the
 * node (macvlan children of its uplink: they go away with it, also when a crashed node is cleaned up),
 * advertised as devices of the extended resource multinet.dev/vf by the test device plugin
 * (dev/node/vf-device-plugin, registered with the node's kubelet) and attached to pods by the test CNI
 * plugin "vf" (dev/node/vf-cni), which moves the link named by deviceID into the pod. Together they play
 * sriov-network-device-plugin and sriov-cni, so device networks run on a node without SR-IOV hardware.
 *
 * startVfDevicePlugin serves any node: it takes the node's kubelet device-plugin dir, its links and its
 * name, and a way to start a process there (the single node's, or a multi-node harness's per node).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServerProcess } from '../controlplane/server-process.ts';

const run = promisify(execFile);

/** The extended resource the stand-in VFs are advertised as. */
export const vfResourceName = 'multinet.dev/vf';

/** Where a kubelet dials its device plugins' registration (fixed in the kubelet, whatever its root dir). */
export const kubeletDevicePluginDir = '/var/lib/kubelet/device-plugins';

/** The stand-in VFs of one node, as the node harness reports them. */
export interface NodeVfs {
  readonly resourceName: string;
  /** The links (device IDs), on the node while no pod has them. */
  readonly links: readonly string[];
  /** The Device Information Spec's directory the device plugin writes and the agent reads. */
  readonly deviceInfoDir: string;
  /** The kubelet's pod-resources socket (the agent's --pod-resources-socket). */
  readonly podResourcesSocket: string;
}

/** Makes `count` links named <prefix>0.. as macvlan children of `uplink` (down, as unused VFs are). */
export async function createVfLinks(
  ip: string,
  uplink: string,
  prefix: string,
  count: number,
): Promise<string[]> {
  const links: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${i}`;
    await run(ip, ['link', 'add', name, 'link', uplink, 'type', 'macvlan', 'mode', 'bridge']);
    links.push(name);
  }
  return links;
}

/** The MAC address of a link on this node, or undefined when it is not here (a pod has it). */
export async function linkAddress(link: string): Promise<string | undefined> {
  return readFile(join('/sys/class/net', link, 'address'), 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
}

export interface VfDevicePluginSpec {
  /** The vf-device-plugin binary (NodeBinaries.vfDevicePlugin). */
  readonly binary: string;
  /** The node's kubelet device-plugin dir (its kubelet.sock; the plugin's socket goes beside it). */
  readonly devicePluginDir: string;
  /** The node's stand-in VF links: the devices' IDs. */
  readonly links: readonly string[];
  readonly nodeName: string;
  readonly deviceInfoDir: string;
  readonly resourceName?: string;
}

/**
 * Starts the test device plugin for one node through `start` (which runs the process where the node
 * runs its daemons and stops it with the node); it registers with the kubelet on its own.
 */
export function startVfDevicePlugin(
  spec: VfDevicePluginSpec,
  start: (name: string, command: string, args: readonly string[]) => Promise<ServerProcess>,
): Promise<ServerProcess> {
  return start('vf-device-plugin', spec.binary, [
    `-plugin-dir=${spec.devicePluginDir}`,
    `-resource=${spec.resourceName ?? vfResourceName}`,
    `-devices=${spec.links.join(',')}`,
    `-device-info-dir=${spec.deviceInfoDir}`,
    `-node=${spec.nodeName}`,
  ]);
}
