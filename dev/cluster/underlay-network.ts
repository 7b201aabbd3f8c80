/**
 * The cluster's networks, made with `ip` in namespaces of its own (nothing is added to the host's):
 * the lab namespace with the underlay bridge ul0 (the datacenter's L2), one namespace per node whose
 * uplink, a veth from ul0, is named eth0 inside it (so a NAD's `"master": "eth0"` is the node's uplink),
 * each node's pod bridge cni0 holding its pods' gateway, and the routes between the nodes' pod subnets
 * (plan.ts). Deleting the namespaces deletes every link in them.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { clusterPodNetwork, podRoutes, underlay, type ClusterPlan } from './plan.ts';

const run = promisify(execFile);

/** Creates the lab and node namespaces, their links, addresses and routes. */
export async function createUnderlay(plan: ClusterPlan, ipPath: string): Promise<void> {
  const ip = (...args: string[]): Promise<unknown> =>
    run(ipPath, args).catch((err: unknown) => {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new Error(`ip ${args.join(' ')}: ${stderr || String(err)}`);
    });
  const lab = plan.labNetns;
  await ip('netns', 'add', lab);
  await ip('-n', lab, 'link', 'set', 'lo', 'up');
  await ip('-n', lab, 'link', 'add', underlay.bridge, 'type', 'bridge');
  await ip(
    '-n',
    lab,
    'addr',
    'add',
    `${underlay.labAddress}/${underlay.prefixLength}`,
    'dev',
    underlay.bridge,
  );
  await ip('-n', lab, 'link', 'set', underlay.bridge, 'up');
  for (const node of plan.nodes) {
    await ip('netns', 'add', node.netns);
    await ip('-n', node.netns, 'link', 'set', 'lo', 'up');
    // Created in the lab with its peer straight in the node: no link ever appears in the host's namespace.
    await ip(
      '-n',
      lab,
      'link',
      'add',
      node.labLink,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      node.netns,
    );
    await ip('-n', lab, 'link', 'set', node.labLink, 'master', underlay.bridge, 'up');
    await ip('-n', node.netns, 'addr', 'add', `${node.address}/${underlay.prefixLength}`, 'dev', 'eth0');
    await ip('-n', node.netns, 'link', 'set', 'eth0', 'up');
    // The pods' bridge with their gateway, ready before the first pod (the bridge plugin finds it).
    await ip('-n', node.netns, 'link', 'add', clusterPodNetwork.bridge, 'type', 'bridge');
    await ip(
      '-n',
      node.netns,
      'addr',
      'add',
      `${node.podGateway}/${clusterPodNetwork.prefixLength}`,
      'dev',
      clusterPodNetwork.bridge,
    );
    await ip('-n', node.netns, 'link', 'set', clusterPodNetwork.bridge, 'up');
    // A node routes between its pods, its uplink and the other nodes' pods.
    await ip('netns', 'exec', node.netns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward');
  }
  for (const node of plan.nodes) {
    for (const route of podRoutes(plan, node))
      await ip('-n', node.netns, 'route', 'add', route.dst, 'via', route.via, 'dev', 'eth0');
  }
  for (const route of podRoutes(plan, undefined))
    await ip('-n', lab, 'route', 'add', route.dst, 'via', route.via, 'dev', underlay.bridge);
}

/** Deletes the cluster's namespaces (and with them every link in them); returns what could not go. */
export async function deleteUnderlay(plan: ClusterPlan, ipPath: string): Promise<string[]> {
  const problems: string[] = [];
  for (const ns of [...plan.nodes.map((n) => n.netns), plan.labNetns]) {
    await run(ipPath, ['netns', 'del', ns]).catch((err: unknown) => {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      if (!/No such file/.test(stderr)) problems.push(`netns ${ns}: ${stderr.trim() || String(err)}`);
    });
  }
  return problems;
}
