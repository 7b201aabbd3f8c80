/**
 * `multinet up`: the local playground (see playground/walkthrough.ts). `npm start` runs it.
 *   multinet up                       run the walkthrough, keep everything running until Ctrl-C
 *   multinet up --nodes N             on N real nodes (default 3, fewer where memory is short)
 *   multinet up --netns               on the network-namespace stand-in, even where a real node can run
 *   multinet up --once                run it, print the findings, clean up; exit 0 only if every step passed
 *   multinet up --kubeconfig-out F    also write the admin kubeconfig to F once everything is ready
 */
import { homedir } from 'node:os';
import { defaultCacheDir } from '../platform/nodejs/cache-dir.ts';
import { writeFileAtomic } from '../platform/nodejs/fs.ts';
import { listenTcp } from '../platform/nodejs/listen.ts';
import type { CommandContext } from '../cli/io.ts';
import { ExitCode, UsageError } from '../cli/io.ts';
import { parseOptions } from '../cli/options.ts';
import { readFile } from 'node:fs/promises';
import { checkNodeCount } from '../dev/cluster/plan.ts';
import { errorMessage } from '../lib/errors.ts';

/** MemAvailable of /proc/meminfo, in bytes (0 when it cannot be read). */
function availableMemory(meminfo: string): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) * 1024;
}

export const upUsage = `Usage: multinet up [--once] [--netns] [--nodes N] [--kubeconfig-out FILE]

Runs the whole multinet system on this machine (as root) and the seed walkthrough on it, as a user types
it. Where the machine can host them, on three real Kubernetes nodes (etcd, kube-apiserver,
controller-manager, scheduler, and per node containerd, runc and a kubelet, built from Go modules on first
use and cached in \${MULTINET_CACHE:-~/.cache/multinet}): kubectl apply the seed's macvlan-conf NAD
("master": "eth0", each node's uplink; whereabouts IPAM), kubectl create the seed's samplepod on two nodes,
and ping one from the other over net1. With less memory, on one real node: apply the NAD, see a broken NAD
rejected, create the samplepod, kubectl exec ip a, kubectl describe. Else, saying why, on a stand-in: a
real kube-apiserver and etcd and one node agent whose pods are network namespaces. Ctrl-C stops
everything and cleans up.

  --once                  clean up and exit after the walkthrough (exit 0 only if every step passed)
  --netns                 use the network-namespace stand-in even where a real node can run
  --nodes N               how many real nodes (1 to 4; default: 3, or fewer where memory is short)
  --kubeconfig-out FILE   write the admin kubeconfig to FILE once everything is ready
  --wait-for-other SECONDS  wait this long for another local node of this machine to stop (one runs at a
                          time) instead of giving up`;

function seconds(flag: string, value: string | undefined): number {
  const n = Number(value ?? 0);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`--${flag} must be a number of seconds (got ${JSON.stringify(value)})`);
  return n;
}

export async function runUp(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    once: { type: 'boolean' },
    netns: { type: 'boolean' },
    'wait-for-other': { type: 'string' },
    'kubeconfig-out': { type: 'string' },
    nodes: { type: 'string' },
  });
  let nodes: number | undefined;
  if (values.nodes !== undefined) {
    nodes = Number(values.nodes);
    try {
      checkNodeCount(nodes);
    } catch (err) {
      throw new UsageError(
        errorMessage(err).replace(`(got ${String(nodes)})`, `(got ${JSON.stringify(values.nodes)})`),
      );
    }
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const { runPlayground } = await import('./walkthrough.ts');
  const cacheDir = defaultCacheDir(context.env, homedir());
  const ok = await runPlayground({
    cacheDir,
    env: context.env,
    signal: context.signal,
    say: (line) => context.io.stdout(`${line}\n`),
    once: values.once === true,
    netns: values.netns === true,
    nodes,
    availableMemory: availableMemory(await readFile('/proc/meminfo', 'utf8').catch(() => '')),
    waitForOtherNodeMs: seconds('wait-for-other', values['wait-for-other']) * 1000,
    kubeconfigOut: values['kubeconfig-out'],
    writeKubeconfig: (path, text) => writeFileAtomic(path, text, 0o600),
    uid: context.process?.uid,
    pid: context.process?.pid ?? 0,
    kill: (pid, signal) => {
      if (!context.process) throw new Error('no process port');
      context.process.kill(pid, signal);
    },
    listen: (server) => listenTcp(server, '127.0.0.1', 0),
  });
  return ok ? ExitCode.ok : ExitCode.failed;
}
