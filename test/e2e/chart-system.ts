/**
 * multinet installed by its Helm chart into the test cluster, its components run as local processes
 * with the chart's args and under the chart's ServiceAccounts (TokenRequest tokens), and the agent on
 * a LocalNode (real network namespaces). Only what a kubelet would change is changed: the kubeconfig
 * (a token file instead of the in-cluster one), listen addresses on 127.0.0.1, and the agent's node
 * paths (the LocalNode's own dirs).
 *
 * The chart's webhook configuration calls https://127.0.0.1:<port> (webhook.url) and selects only the
 * test's pod namespace, so tests running alongside in the same cluster are not affected.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { nadGroup, nadPlural, nadVersion } from '../../lib/nad.ts';
import { LocalNode } from '../../dev/netns/local-node.ts';
import { freeLoopbackPort as freePort } from '../../platform/nodejs/listen.ts';
import { startMultinet, type ManagedProcess } from '../../dev/multinet-process.ts';
import { uniqueName } from '../../dev/controlplane/access.ts';
import { createTestNamespace, testKubeconfigPath } from '../controlplane/test-cluster.ts';
import type { KubeObject } from './helm.ts';
import { serviceAccountIdentity, type Identity } from './identities.ts';
import { waitUntilAllowed } from '../../dev/controlplane/access.ts';
import { Release } from './release.ts';
import { eventually, httpOk } from '../../dev/eventually.ts';
import { componentArgs, withoutFlags, type Component } from './workloads.ts';

/** The agent flags that name node paths or ports: the LocalNode gives its own. */
const nodeFlags = ['cni-conf-dir', 'cni-bin-dir', 'state-dir', 'socket', 'shim-source', 'probe-listen'];
const components: readonly Component[] = ['controller', 'webhook', 'agent'];
const nadApi = { group: nadGroup, version: nadVersion, plural: nadPlural };

export class ChartSystem {
  readonly admin: KubeConfig;
  readonly logDir = mkdtempSync(join(tmpdir(), 'multinet-e2e-'));
  release!: Release;
  /** Where the test's pods and NADs live (the only namespace the webhook configuration selects). */
  podNamespace!: string;
  webhookPort!: number;
  objects: KubeObject[] = [];
  readonly identities = {} as Record<Component, Identity>;
  node: LocalNode | undefined;
  private readonly processes: ManagedProcess[] = [];

  constructor(admin: KubeConfig) {
    this.admin = admin;
  }

  get webhookConfigName(): string {
    return `${this.release.fullname}-webhook`;
  }

  get webhookSecretName(): string {
    return `${this.release.fullname}-webhook-tls`;
  }

  /** The chart values: the webhook at a local URL, scoped to the pod namespace. */
  values(extra: { logLevel?: string } = {}): object {
    return {
      logLevel: 'debug',
      ...extra,
      controller: { namespaces: [this.podNamespace] },
      // The agent runs here as a process under a TokenRequest token bound to no pod, so its requests carry
      // no node name: the node-identity policy would refuse them. The node tier tests the policy.
      agent: { nodeIdentityPolicy: { enabled: false } },
      webhook: {
        url: `https://127.0.0.1:${this.webhookPort}`,
        timeoutSeconds: 5,
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': this.podNamespace } },
      },
    };
  }

  async start(): Promise<void> {
    const releaseNamespace = await createTestNamespace('multinet-e2e');
    this.podNamespace = await createTestNamespace('e2e-pods');
    this.release = new Release(uniqueName('e2e'), releaseNamespace, testKubeconfigPath());
    this.webhookPort = await freePort();
    await this.release.install(this.values(), '--skip-crds');
    this.objects = await this.release.manifest();
    for (const component of components) {
      const name = `${this.release.fullname}-${component}`;
      const identity = await serviceAccountIdentity(this.admin, releaseNamespace, name, this.logDir);
      const nads = { group: 'k8s.cni.cncf.io', resource: 'network-attachment-definitions' };
      await waitUntilAllowed(this.admin, identity.username, { verb: 'watch', ...nads });
      this.identities[component] = identity;
    }
    await this.startController();
    await this.startWebhook();
    await this.startAgent();
  }

  private async startController(): Promise<void> {
    const probe = await freePort();
    this.run('controller', ['--probe-listen', `127.0.0.1:${probe}`]);
    await eventually('the controller to be ready', () => httpOk(`http://127.0.0.1:${probe}/readyz`));
  }

  private async startWebhook(): Promise<void> {
    const probe = await freePort();
    this.run('webhook', [
      '--listen',
      `127.0.0.1:${this.webhookPort}`,
      '--probe-listen',
      `127.0.0.1:${probe}`,
    ]);
    await eventually('the webhook to be ready', () => httpOk(`http://127.0.0.1:${probe}/readyz`));
    await this.caBundle();
  }

  private async startAgent(): Promise<void> {
    this.node = new LocalNode('e2e');
    const args = withoutFlags(componentArgs(this.objects, 'agent'), nodeFlags);
    await this.node.startAgent(args, this.identities.agent.kubeconfigPath);
    const custom = this.admin.makeApiClient(CustomObjectsApi);
    const name = this.node.nodeName;
    await eventually('the NodeNetworkState of the agent', () =>
      custom.getClusterCustomObject({
        group: 'multinet.io',
        version: 'v1alpha1',
        plural: 'nodenetworkstates',
        name,
      }),
    );
  }

  /** Runs `multinet <component>` with the chart's args, then the local overrides (the last flag wins). */
  private run(component: Component, overrides: readonly string[]): void {
    const args = [component, ...componentArgs(this.objects, component)];
    args.push('--kubeconfig', this.identities[component].kubeconfigPath, ...overrides);
    this.processes.push(startMultinet(component, args, this.logDir));
  }

  /** The caBundle every webhook of the chart's configuration carries, once the webhook has written it. */
  caBundle(): Promise<string> {
    const api = this.admin.makeApiClient(AdmissionregistrationV1Api);
    return eventually('the caBundle in the ValidatingWebhookConfiguration', async () => {
      const config = await api.readValidatingWebhookConfiguration({ name: this.webhookConfigName });
      const bundles = new Set((config.webhooks ?? []).map((w) => w.clientConfig.caBundle ?? ''));
      const [bundle] = [...bundles];
      return bundles.size === 1 && bundle ? bundle : undefined;
    });
  }

  /** What each component logged so far. */
  logs(): Record<Component, string> {
    const read = (name: string): string => readFileSync(join(this.logDir, `${name}.log`), 'utf8');
    return { controller: read('controller'), webhook: read('webhook'), agent: this.node?.log ?? '' };
  }

  /** Processes that exited although nobody stopped them. */
  crashed(): string[] {
    return this.processes
      .filter((p) => p.exitStatus() !== null)
      .map((p) => `${p.name}: ${String(p.exitStatus())}`);
  }

  /** Stops everything and removes what it made; keeps the logs when `keepLogs`. Never throws. */
  async stop(keepLogs: boolean): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    // The NADs name the node's links: gone with the node, they would be problems for other tests' agents.
    if (this.podNamespace) {
      await this.admin
        .makeApiClient(CustomObjectsApi)
        .deleteCollectionNamespacedCustomObject({ ...nadApi, namespace: this.podNamespace })
        .catch(() => undefined);
    }
    await this.node?.destroy();
    if (this.release) await this.release.uninstall(this.admin);
    if (this.node) {
      await this.admin
        .makeApiClient(CustomObjectsApi)
        .deleteClusterCustomObject({
          group: 'multinet.io',
          version: 'v1alpha1',
          plural: 'nodenetworkstates',
          name: this.node.nodeName,
        })
        .catch(() => undefined);
    }
    if (keepLogs) process.stderr.write(`multinet e2e: logs kept in ${this.logDir}\n`);
    else rmSync(this.logDir, { recursive: true, force: true });
  }
}
