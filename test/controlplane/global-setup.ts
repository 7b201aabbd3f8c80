/**
 * jest globalSetup of the `controlplane` project (an entry point: it reads process.env). Starts one
 * control plane for the whole run and hands its admin kubeconfig to the test workers through
 * MULTINET_TEST_KUBECONFIG, which they inherit. global-teardown.ts stops it.
 *
 * With MULTINET_TEST_KUBECONFIG already set (for example to the file `multinet dev cluster` wrote),
 * the tests run against that cluster and nothing is started.
 */
import { homedir } from 'node:os';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { startControlPlane } from '../../dev/controlplane/controlplane.ts';
import { kubeConfigFromYaml } from '../../dev/controlplane/kubeconfig.ts';
import { installCrds } from '../../dev/controlplane/crds.ts';
import { readFileSync } from 'node:fs';
import { kubeconfigEnv, setRunningControlPlane } from './run-state.ts';

export default async function globalSetup(): Promise<void> {
  const existing = process.env[kubeconfigEnv];
  if (existing) {
    process.stderr.write(`\n[controlplane] using the cluster in ${kubeconfigEnv}=${existing}\n`);
    await installCrds(kubeConfigFromYaml(readFileSync(existing, 'utf8')));
    return;
  }
  const log = (line: string): void => void process.stderr.write(`[controlplane] ${line}\n`);
  process.stderr.write('\n');
  try {
    const controlPlane = await startControlPlane({
      kill: (pid, signal) => process.kill(pid, signal),
      cacheDir: defaultCacheDir(process.env, homedir()),
      env: process.env,
      log,
    });
    setRunningControlPlane(controlPlane);
    process.env[kubeconfigEnv] = controlPlane.adminKubeconfigPath;
    // multinet's CRDs (NetworkAttachmentDefinition with status, NodeNetworkState), as the chart installs them
    await installCrds(kubeConfigFromYaml(readFileSync(controlPlane.adminKubeconfigPath, 'utf8')));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`jest project "controlplane": could not start the test control plane.\n${message}`, {
      cause: err,
    });
  }
}
