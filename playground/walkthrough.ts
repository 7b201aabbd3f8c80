/**
 * `multinet up`: the seed walkthrough on a real Kubernetes node when this machine can host one
 * (playground/node-walkthrough.ts), else — saying why, in one line — on the network-namespace stand-in
 * (playground/netns-walkthrough.ts: a real control plane, pods as network namespaces).
 */
import type { Kill } from '../lib/ports.ts';
import type { ListenLoopback } from '../dev/node/registry.ts';
import { checkNodeHost } from '../dev/node/prerequisites.ts';
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
  /** Write the admin kubeconfig here once everything is ready. */
  readonly kubeconfigOut?: string | undefined;
  readonly writeKubeconfig: (path: string, text: string) => Promise<void>;
  readonly uid: number | undefined;
  readonly pid: number;
  readonly kill: Kill;
  readonly listen: ListenLoopback;
  /** Wait this long for another local node of this machine to stop (0: give up at once). */
  readonly waitForOtherNodeMs?: number;
}

/** Runs the playground; returns true when every step succeeded. */
export async function runPlayground(options: PlaygroundOptions): Promise<boolean> {
  if (!options.netns) {
    const check = await checkNodeHost({ uid: options.uid, path: options.env.PATH });
    if (check.ok) return runNodePlayground(options);
    options.say(
      `a real Kubernetes node cannot run here (missing: ${check.missing.join('; ')}); using the network-namespace stand-in instead`,
    );
  }
  return runNetnsPlayground(options);
}
