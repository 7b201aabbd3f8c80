/**
 * What a test of the `controlplane` jest project uses to reach the run's control plane:
 *
 *   const kc = testKubeConfig();
 *   const namespace = await createTestNamespace('nad-status');
 *   const reader = await testServiceAccount(namespace, 'reader', { rules: [...] });
 */
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import {
  createNamespace,
  createServiceAccountToken,
  type ServiceAccountAccess,
  type ServiceAccountCredentials,
} from '../../dev/controlplane/access.ts';
import { kubeConfigFromYaml } from '../../dev/controlplane/kubeconfig.ts';
import { kubeconfigEnv } from './run-state.ts';

/** The admin kubeconfig file of the run's control plane. */
export function testKubeconfigPath(): string {
  const path = process.env[kubeconfigEnv];
  if (!path) {
    throw new Error(
      `${kubeconfigEnv} is not set: control-plane tests run in the jest project "controlplane", whose globalSetup starts the cluster (npm run jest -- --selectProjects controlplane)`,
    );
  }
  return path;
}

/** A fresh admin (system:masters) KubeConfig for the run's control plane. */
export function testKubeConfig(): KubeConfig {
  return kubeConfigFromYaml(readFileSync(testKubeconfigPath(), 'utf8'));
}

/** A new namespace `<prefix>-<random>` for one test. */
export function createTestNamespace(prefix: string): Promise<string> {
  return createNamespace(testKubeConfig(), prefix);
}

/** A ServiceAccount in `namespace` with exactly the RBAC in `access`, and a token for it. */
export function testServiceAccount(
  namespace: string,
  name: string,
  access?: ServiceAccountAccess,
): Promise<ServiceAccountCredentials> {
  return createServiceAccountToken(testKubeConfig(), namespace, name, access);
}

/** The Kubernetes Status of a failed API call: HTTP code, reason and the server's message. */
export interface ApiStatus {
  readonly code: number;
  readonly reason?: string;
  readonly message: string;
}

/** Decodes the Status an ApiException carries (client-node 2.x keeps the body as JSON text). */
export function apiStatus(err: unknown): ApiStatus {
  if (!(err instanceof ApiException)) throw err;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return { code: err.code, message: body as string };
    }
  }
  const status = (body ?? {}) as { reason?: string; message?: string };
  return {
    code: err.code,
    ...(status.reason ? { reason: status.reason } : {}),
    message: status.message ?? err.message,
  };
}

/** Runs `call`, expects it to fail with an API error, and returns that error's Status. */
export async function expectApiError(call: Promise<unknown>): Promise<ApiStatus> {
  try {
    await call;
  } catch (err) {
    return apiStatus(err);
  }
  throw new Error('expected the API call to fail, but it succeeded');
}
