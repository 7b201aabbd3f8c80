/**
 * A release of the chart in the test cluster: helm install/upgrade/uninstall with the admin
 * kubeconfig, its manifest, and clean-up of what it made cluster-wide even when helm cannot.
 */
import { AdmissionregistrationV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { chartDir, helm, helmRun, parseObjects, type KubeObject } from './helm.ts';

export class Release {
  readonly name: string;
  readonly namespace: string;
  private readonly kubeconfig: string;

  constructor(name: string, namespace: string, kubeconfig: string) {
    this.name = name;
    this.namespace = namespace;
    this.kubeconfig = kubeconfig;
  }

  /** The chart's resource name prefix for this release. */
  get fullname(): string {
    return this.name.includes('multinet') ? this.name : `${this.name}-multinet`;
  }

  private args(...rest: string[]): string[] {
    return [...rest, '--namespace', this.namespace, '--kubeconfig', this.kubeconfig];
  }

  /**
   * The test cluster's CRDs come from the harness (platform/kube/crds.ts), applied by another field manager:
   * helm 4 applies crds/ server-side and would stop at the conflict, so tests pass --skip-crds.
   */
  install(values: object, ...flags: string[]): Promise<string> {
    return helm(this.args('install', this.name, chartDir, ...flags), values);
  }

  upgrade(values: object, ...flags: string[]): Promise<string> {
    return helm(this.args('upgrade', this.name, chartDir, ...flags), values);
  }

  async status(): Promise<{ version: number; info: { status: string } }> {
    return JSON.parse(await helm(this.args('status', this.name, '--output', 'json'))) as {
      version: number;
      info: { status: string };
    };
  }

  async manifest(): Promise<KubeObject[]> {
    return parseObjects(await helm(this.args('get', 'manifest', this.name)));
  }

  /** helm uninstall, then deletes what is left cluster-wide with the release's label (never throws). */
  async uninstall(admin: KubeConfig): Promise<void> {
    await helmRun(this.args('uninstall', this.name));
    const labelSelector = `app.kubernetes.io/instance=${this.name}`;
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const admission = admin.makeApiClient(AdmissionregistrationV1Api);
    const ignore = (): undefined => undefined;
    await rbac.deleteCollectionClusterRole({ labelSelector }).catch(ignore);
    await rbac.deleteCollectionClusterRoleBinding({ labelSelector }).catch(ignore);
    await admission.deleteCollectionValidatingWebhookConfiguration({ labelSelector }).catch(ignore);
  }
}
