/**
 * `multinet up`: the seed walkthrough on several real Kubernetes nodes when this machine can host them
 * (playground/cluster-walkthrough.ts: two samplepods on different nodes pinging each other over net1),
 * else on one real node (playground/node-walkthrough.ts), else on the network-namespace stand-in
 * (playground/netns-walkthrough.ts: a real control plane, pods as network namespaces); each fallback says
 * why in one line.
 */
import type { Kill } from '../lib/ports.ts';
import type { ListenLoopback } from '../dev/node/registry.ts';
import { checkNodeHost } from '../dev/node/prerequisites.ts';
import { runClusterPlayground } from './cluster-walkthrough.ts';
import { runNetnsPlayground } from './netns-walkthrough.ts';
import { runNodePlayground } from './node-walkthrough.ts';

export interface PlaygroundOptions {
  /** Cache root of the builds (binaries in <cacheDir>/bin, images in <cacheDir>/images). */
  readonly cacheDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
  /** Run the walkthrough, clean up and return (for scripts); else keep running until the signal. */
  readonly once: boolean;
  /** Use the network-namespace stand-in even where a real node could run. */
  readonly netns: boolean;
  /** How many real nodes (default: as many as the machine's memory allows, up to 3). */
  readonly nodes?: number | undefined;
  /** Write the admin kubeconfig here once everything is ready. */
  readonly kubeconfigOut?: string | undefined;
  readonly writeKubeconfig: (path: string, text: string) => Promise<void>;
  readonly uid: number | undefined;
  readonly pid: number;
  readonly kill: Kill;
  readonly listen: ListenLoopback;
  /** Wait this long for another local node of this machine to stop (0: give up at once). */
  readonly waitForOtherNodeMs?: number;
  /** The machine's available memory in bytes (MemAvailable), for how many nodes it can host. */
  readonly availableMemory: number;
}

/**
 * Memory a cluster of `nodes` needs here, measured (../shared/notes, the nodes tier): the control plane
 * about 0.5 GB, each node (kubelet, containerd, multinet's agent, whereabouts, a few pods) about 0.4 GB;
 * with room to spare for the image builds.
 */
export function memoryForNodes(nodes: number): number {
  return (1.5 + 0.5 * nodes) * 1024 ** 3;
}

/** How many nodes to run: the asked-for count, else 3, 2 or 1 by memory, with the reason for fewer. */
export function nodeCount(
  asked: number | undefined,
  availableMemory: number,
): { nodes: number; why?: string } {
  if (asked !== undefined) return { nodes: asked };
  for (const nodes of [3, 2]) if (availableMemory >= memoryForNodes(nodes)) return { nodes };
  const gb = (bytes: number): string => (bytes / 1024 ** 3).toFixed(1);
  return {
    nodes: 1,
    why: `${gb(availableMemory)} GB of memory available, ${gb(memoryForNodes(2))} GB needed for two nodes; using one node`,
  };
}

/** Runs the playground; returns true when every step succeeded. */
export async function runPlayground(options: PlaygroundOptions): Promise<boolean> {
  if (!options.netns) {
    const check = await checkNodeHost({ uid: options.uid, path: options.env.PATH });
    if (check.ok) {
      const { nodes, why } = nodeCount(options.nodes, options.availableMemory);
      if (why) options.say(why);
      return nodes > 1 ? runClusterPlayground({ ...options, nodes }) : runNodePlayground(options);
    }
    options.say(
      `a real Kubernetes node cannot run here (missing: ${check.missing.join('; ')}); using the network-namespace stand-in instead`,
    );
  }
  return runNetnsPlayground(options);
}
