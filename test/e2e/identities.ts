/**
 * Acting as the chart's ServiceAccounts: a TokenRequest token for an existing ServiceAccount, written
 * into a kubeconfig file for a process, and a wait until RBAC (which the API server caches) grants it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { tokenKubeconfig } from '../../dev/controlplane/access.ts';
import { kubeConfigFromYaml } from '../../dev/controlplane/kubeconfig.ts';

export interface Identity {
  readonly username: string;
  /** A kubeconfig file (mode 0600) that authenticates with the token. */
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
}

export interface Access {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
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

/** Resolves once RBAC allows `identity` this access (new bindings take a moment to be seen). */
export async function waitUntilAllowed(
  admin: KubeConfig,
  identity: Identity,
  access: Access,
  timeoutMs = 10_000,
): Promise<void> {
  const api = admin.makeApiClient(AuthorizationV1Api);
  const namespace = identity.username.split(':')[2]!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const review = await api.createSubjectAccessReview({
      body: {
        spec: {
          user: identity.username,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
          resourceAttributes: { ...access },
        },
      },
    });
    if (review.status?.allowed) return;
    if (Date.now() > deadline)
      throw new Error(`RBAC does not allow ${identity.username}: ${JSON.stringify(access)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
