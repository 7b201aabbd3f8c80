/**
 * Per-test isolation and identities on a control plane, through an admin KubeConfig: fresh namespaces,
 * and ServiceAccounts with exactly the RBAC a test gives them, authenticated by TokenRequest tokens.
 */
import { randomBytes } from 'node:crypto';
import {
  AuthorizationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { clusterOf, kubeConfigFromYaml, renderKubeconfig } from './kubeconfig.ts';
import { eventually } from '../eventually.ts';

/** A DNS-1123 label: lower-case prefix, a dash and random hex, at most 63 characters. */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'test';
  return `${clean}-${randomBytes(4).toString('hex')}`;
}

/** Creates a namespace named `<prefix>-<random>` and returns its name. */
export async function createNamespace(admin: KubeConfig, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await admin
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { 'multinet.test/harness': 'true' } } } });
  return name;
}

/** What a ServiceAccount may do. Everything is optional: no rules means no rights at all. */
export interface ServiceAccountAccess {
  /** Rules of a Role in the ServiceAccount's namespace, bound with a RoleBinding. */
  readonly rules?: readonly V1PolicyRule[];
  /** Rules of a ClusterRole, bound cluster-wide with a ClusterRoleBinding. */
  readonly clusterRules?: readonly V1PolicyRule[];
  /** Existing ClusterRoles (for example "view") bound in the namespace with RoleBindings. */
  readonly clusterRoles?: readonly string[];
  /** Token lifetime (default 3600 s; the API server's minimum is 600 s). */
  readonly expirationSeconds?: number;
  /** How long to wait until the RBAC authorizer sees the new bindings (default 10 s). */
  readonly propagationTimeoutMs?: number;
}

export interface ServiceAccountCredentials {
  readonly namespace: string;
  readonly name: string;
  /** The Kubernetes user name: system:serviceaccount:<namespace>:<name>. */
  readonly username: string;
  readonly token: string;
  /** A kubeconfig (YAML) that authenticates with the token; its context's namespace is `namespace`. */
  readonly kubeconfig: string;
  kubeConfig(): KubeConfig;
}

/** One request a SubjectAccessReview asks about. */
export interface ResourceAccess {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * The first thing a rule grants (its first verb on its first resource and name, in `namespace` for a
 * Role's rule), or undefined for a wildcard, which no single review can prove.
 */
export function firstGrant(rule: V1PolicyRule, namespace?: string): ResourceAccess | undefined {
  const verb = rule.verbs[0];
  const resource = rule.resources?.[0];
  if (verb === undefined || verb === '*' || resource === undefined || resource === '*') return undefined;
  const [base, subresource] = resource.split('/');
  return {
    verb,
    group: rule.apiGroups?.[0] ?? '',
    resource: base!,
    ...(subresource ? { subresource } : {}),
    ...(rule.resourceNames?.[0] ? { name: rule.resourceNames[0] } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

/**
 * Resolves once RBAC grants `user` (a ServiceAccount's system:serviceaccount:NS:NAME, with the
 * groups the API server gives it) `access`: the authorizer caches bindings, so new ones take a moment.
 */
export async function waitUntilAllowed(
  admin: KubeConfig,
  user: string,
  access: ResourceAccess,
  timeoutMs = 10_000,
): Promise<void> {
  const api = admin.makeApiClient(AuthorizationV1Api);
  const serviceAccountNamespace = user.split(':')[2] ?? '';
  const allowed = async (): Promise<boolean> => {
    const review = await api.createSubjectAccessReview({
      body: {
        spec: {
          user,
          groups: [
            'system:serviceaccounts',
            `system:serviceaccounts:${serviceAccountNamespace}`,
            'system:authenticated',
          ],
          resourceAttributes: { ...access },
        },
      },
    });
    return review.status?.allowed === true;
  };
  await eventually(`RBAC to allow ${user} ${JSON.stringify(access)}`, allowed, {
    timeoutMs,
    intervalMs: 100,
  });
}

/**
 * Creates the ServiceAccount `name` in `namespace` (which must exist), the Role/ClusterRole and
 * bindings that `access` describes, waits until RBAC grants them, and returns a TokenRequest token.
 */
export async function createServiceAccountToken(
  admin: KubeConfig,
  namespace: string,
  name: string,
  access: ServiceAccountAccess = {},
): Promise<ServiceAccountCredentials> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const username = `system:serviceaccount:${namespace}:${name}`;
  const subjects = [{ kind: 'ServiceAccount', name, namespace }];
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  if (access.rules && access.rules.length > 0) {
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: [...access.rules] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects,
      },
    });
  }
  if (access.clusterRules && access.clusterRules.length > 0) {
    const clusterName = `${namespace}:${name}`;
    await rbac.createClusterRole({
      body: { metadata: { name: clusterName }, rules: [...access.clusterRules] },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: clusterName },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
        subjects,
      },
    });
  }
  for (const role of access.clusterRoles ?? []) {
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${name}-${role}`.slice(0, 253) },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects,
      },
    });
  }
  const timeoutMs = access.propagationTimeoutMs ?? 10_000;
  const grants = [
    ...(access.rules ?? []).map((rule) => firstGrant(rule, namespace)),
    ...(access.clusterRules ?? []).map((rule) => firstGrant(rule)),
  ];
  for (const grant of grants) if (grant) await waitUntilAllowed(admin, username, grant, timeoutMs);

  const { token, kubeconfig } = await tokenKubeconfig(
    admin,
    namespace,
    name,
    access.expirationSeconds ?? 3600,
  );
  return { namespace, name, username, token, kubeconfig, kubeConfig: () => kubeConfigFromYaml(kubeconfig) };
}

/**
 * A TokenRequest token for an existing ServiceAccount and an admin-cluster kubeconfig that uses it
 * (the SA's namespace as the context's default).
 */
export async function tokenKubeconfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<{ token: string; kubeconfig: string }> {
  const request = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = request.status?.token;
  if (!token)
    throw new Error(`TokenRequest for system:serviceaccount:${namespace}:${name} returned no token`);
  const { server, caPem } = clusterOf(admin);
  const kubeconfig = renderKubeconfig({
    server,
    caPem,
    name: 'multinet-test',
    user: `system:serviceaccount:${namespace}:${name}`,
    credentials: { token },
    namespace,
  });
  return { token, kubeconfig };
}
