/**
 * The addresses and names of a multi-node cluster on one machine, decided before anything starts (pure):
 *
 * - the underlay, 192.0.2.0/24: a bridge `ul0` in the lab namespace, holding .1, where the control plane
 *   and the image registry's relay listen; node i's uplink `eth0` holds .(10+i);
 * - the pod network, 198.51.100.0/24: node i's pods get eth0 from its /26 share (bridge `cni0` +
 *   host-local), the node holding the share's first address as their gateway; every node and the lab
 *   route each other node's share to that node's underlay address, as flanneld's host-gw backend or
 *   Calico's BGP would program them;
 * - 203.0.113.0/24 stays free for users' and tests' NADs (a macvlan on eth0, say).
 */

/** The largest cluster: four /26 pod subnets fill 198.51.100.0/24, each with room for 61 pods. */
export const maxNodes = 4;

export const underlay = {
  subnet: '192.0.2.0/24',
  prefixLength: 24,
  /** The lab's address on ul0: the API server (port 6443) and the registry relay (port 5000). */
  labAddress: '192.0.2.1',
  registryPort: 5000,
  bridge: 'ul0',
  /** Service ClusterIPs: never routed (there is no kube-proxy), and out of 203.0.113.0/24's way. */
  serviceClusterIpRange: '192.0.2.128/25',
} as const;

export const clusterPodNetwork = {
  name: 'podnet',
  clusterSubnet: '198.51.100.0/24',
  prefixLength: 26,
  bridge: 'cni0',
  fileName: '10-podnet.conflist',
} as const;

/** Addresses 203.0.113.0/24 that no part of the harness uses: users' and tests' NADs take them. */
export const freeForNads = '203.0.113.0/24';

export interface NodePlan {
  /** 1-based. */
  readonly index: number;
  /** The Node's name: node-1, node-2, ... */
  readonly name: string;
  /** The node's network namespace (its name under /run/netns). */
  readonly netns: string;
  /** The lab end of the node's uplink, on ul0. */
  readonly labLink: string;
  /** The node's underlay address (InternalIP, the kubelet's address). */
  readonly address: string;
  /** Its share of the pod network, and the gateway address the node holds on cni0. */
  readonly podSubnet: string;
  readonly podGateway: string;
  /** The node's cgroup subtree (in every hierarchy). */
  readonly cgroup: string;
}

export interface ClusterPlan {
  /** A short random id that names everything of this run (netns, cgroups). */
  readonly id: string;
  readonly labNetns: string;
  readonly nodes: readonly NodePlan[];
}

/** Checks a requested node count: a whole number from 1 to maxNodes. */
export function checkNodeCount(nodes: number): void {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > maxNodes) {
    throw new Error(
      `--nodes must be a whole number from 1 to ${maxNodes} (got ${String(nodes)}): ` +
        `the pod network ${clusterPodNetwork.clusterSubnet} is split into /${clusterPodNetwork.prefixLength} shares, one per node`,
    );
  }
}

/** The plan of a cluster of `nodes` nodes named by `id` (6 hex digits). */
export function clusterPlan(id: string, nodes: number): ClusterPlan {
  if (!/^[0-9a-f]{6}$/.test(id)) throw new Error(`invalid cluster id ${JSON.stringify(id)}`);
  checkNodeCount(nodes);
  const plans: NodePlan[] = [];
  for (let index = 1; index <= nodes; index++) {
    const base = 64 * (index - 1);
    plans.push({
      index,
      name: `node-${index}`,
      netns: `mn${id}n${index}`,
      labLink: `ul0-n${index}`,
      address: `192.0.2.${10 + index}`,
      podSubnet: `198.51.100.${base}/${clusterPodNetwork.prefixLength}`,
      podGateway: `198.51.100.${base + 1}`,
      cgroup: `multinet-node-${id}n${index}`,
    });
  }
  return { id, labNetns: `mn${id}lab`, nodes: plans };
}

/** The routes a node (or, with `self` undefined, the lab) needs to the other nodes' pod subnets. */
export function podRoutes(
  plan: ClusterPlan,
  self: NodePlan | undefined,
): Array<{ dst: string; via: string }> {
  return plan.nodes.filter((n) => n !== self).map((n) => ({ dst: n.podSubnet, via: n.address }));
}
