/**
 * `multinet up`: the local playground (see playground/walkthrough.ts). `npm start` runs it.
 *   multinet up                       run the walkthrough, keep everything running until Ctrl-C
 *   multinet up --once                run it, print the findings, clean up; exit 0 only if every step passed
 *   multinet up --kubeconfig-out F    also write the admin kubeconfig to F once everything is ready
 */
import { homedir } from 'node:os';
import { defaultCacheDir } from '../platform/nodejs/cache-dir.ts';
import { writeFileAtomic } from '../platform/nodejs/fs.ts';
import type { CommandContext } from './commands.ts';
import { ExitCode, UsageError } from './io.ts';
import { parseOptions } from './options.ts';

export const upUsage = `Usage: multinet up [--once] [--kubeconfig-out FILE]

Runs the whole multinet system on this machine (as root): a real kube-apiserver and etcd (built from
Go modules on first use, cached in \${MULTINET_CACHE:-~/.cache/multinet}), the CRDs, the controller, the
admission webhook and one node agent whose pods are network namespaces; then applies the seed's
macvlan-conf NAD and samplepod, runs the pod's CNI ADD as a runtime would and prints the NAD's
conditions, the pod's interfaces and its network-status. Ctrl-C stops everything and cleans up.

  --once                  clean up and exit after the walkthrough (exit 0 only if every step passed)
  --kubeconfig-out FILE   write the admin kubeconfig to FILE once everything is ready`;

export async function runUp(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    once: { type: 'boolean' },
    'kubeconfig-out': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const { runPlayground } = await import('../playground/walkthrough.ts');
  const cacheDir = defaultCacheDir(context.env, homedir());
  const ok = await runPlayground({
    cacheDir,
    env: context.env,
    signal: context.signal,
    say: (line) => context.io.stdout(`${line}\n`),
    once: values.once === true,
    kubeconfigOut: values['kubeconfig-out'],
    writeKubeconfig: (path, text) => writeFileAtomic(path, text, 0o600),
  });
  return ok ? ExitCode.ok : ExitCode.failed;
}
