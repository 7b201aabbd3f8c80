/**
 * Acting as the chart's ServiceAccounts: a TokenRequest token for an existing ServiceAccount, written
 * into a kubeconfig file for a process.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { tokenKubeconfig } from '../../dev/controlplane/access.ts';
import { kubeConfigFromYaml } from '../../dev/controlplane/kubeconfig.ts';

export interface Identity {
  readonly username: string;
  /** A kubeconfig file (mode 0600) that authenticates with the token. */
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
}

/** A token for the ServiceAccount (which must exist) and a kubeconfig file in `dir`. */
export async function serviceAccountIdentity(
  admin: KubeConfig,
  namespace: string,
  name: string,
  dir: string,
): Promise<Identity> {
  const username = `system:serviceaccount:${namespace}:${name}`;
  const { kubeconfig: text } = await tokenKubeconfig(admin, namespace, name);
  const kubeconfigPath = join(dir, `${name}.kubeconfig`);
  await writeFile(kubeconfigPath, text, { mode: 0o600 });
  return { username, kubeconfigPath, kubeConfig: kubeConfigFromYaml(text) };
}
