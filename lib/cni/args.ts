/** CNI_ARGS: `KEY=VALUE;KEY=VALUE`, the per-invocation arguments the runtime passes (K8S_POD_NAME...). */
import { dns1123LabelError, dns1123SubdomainError } from '../k8s/names.ts';
import { CniError, CniErrorCode } from './error.ts';

export type CniArgs = Readonly<Record<string, string>>;

const keyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !keyPattern.test(key)) {
      throw new CniError(
        CniErrorCode.invalidEnvironment,
        `CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE`,
      );
    }
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

export function formatCniArgs(args: CniArgs): string {
  return Object.entries(args)
    .map(([key, value]) => {
      if (!keyPattern.test(key) || value.includes(';')) {
        throw new CniError(
          CniErrorCode.invalidEnvironment,
          `CNI_ARGS: cannot pass ${JSON.stringify(key)}=${JSON.stringify(value)}`,
        );
      }
      return `${key}=${value}`;
    })
    .join(';');
}

/** The Kubernetes keys a runtime passes in CNI_ARGS. */
export interface PodArgs {
  readonly namespace: string;
  readonly name: string;
  readonly infraContainerId: string;
  readonly uid: string;
}

export function podArgsFrom(args: CniArgs): PodArgs | undefined {
  const namespace = args.K8S_POD_NAMESPACE;
  const name = args.K8S_POD_NAME;
  if (!namespace || !name) return undefined;
  return {
    namespace,
    name,
    infraContainerId: args.K8S_POD_INFRA_CONTAINER_ID ?? '',
    uid: args.K8S_POD_UID ?? '',
  };
}

/**
 * Checks the Kubernetes keys whose values name files and API paths (a pod's status file, its API
 * object): a namespace is a DNS-1123 label, a pod name a DNS-1123 subdomain, so neither can hold a '/'
 * or '..'. `containerIdError` judges K8S_POD_INFRA_CONTAINER_ID as CNI_CONTAINERID is judged.
 */
export function checkPodArgs(args: CniArgs, containerIdError: (id: string) => string | undefined): void {
  const problems: Array<[string, string | undefined]> = [
    ['K8S_POD_NAMESPACE', args.K8S_POD_NAMESPACE && dns1123LabelError(args.K8S_POD_NAMESPACE)],
    ['K8S_POD_NAME', args.K8S_POD_NAME && dns1123SubdomainError(args.K8S_POD_NAME)],
    [
      'K8S_POD_INFRA_CONTAINER_ID',
      args.K8S_POD_INFRA_CONTAINER_ID && containerIdError(args.K8S_POD_INFRA_CONTAINER_ID),
    ],
  ];
  for (const [key, problem] of problems) {
    if (problem) throw new CniError(CniErrorCode.invalidEnvironment, `CNI_ARGS ${key} ${problem}`);
  }
}
