/**
 * The Helm chart as rendered by the harness's helm: lint-clean (also --strict), its schema and template
 * checks enforced, its ValidatingWebhookConfiguration equal to what `multinet webhook register` renders
 * for the same values, and every object accepted by the real API server (server-side dry run).
 */
import yaml from 'js-yaml';
import {
  defaultWebhookConfigValues,
  renderMutatingWebhookConfiguration,
  renderWebhookConfiguration,
  webhookDefaults,
  type WebhookConfigValues,
} from '../../webhooks/webhook-configuration.ts';
import { createTestNamespace, testKubeconfigPath } from '../controlplane/test-cluster.ts';
import { certManager, everything } from './chart-values.ts';
import { chartDir, findObject, helm, helmRun, kubectl, renderChart, type KubeObject } from './helm.ts';
import { componentArgs } from './workloads.ts';

function webhookConfiguration(objects: readonly KubeObject[]): KubeObject {
  return findObject(objects, 'ValidatingWebhookConfiguration');
}

/** What `multinet webhook register` renders, with the chart's labels (JSON round trip drops undefined). */
function expected(values: WebhookConfigValues, rendered: KubeObject): unknown {
  return JSON.parse(
    JSON.stringify(renderWebhookConfiguration({ ...values, labels: rendered.metadata.labels })),
  );
}

describe('helm lint', () => {
  it.each([
    ['the defaults', {}],
    ['cert-manager mode', certManager],
    ['every option set', everything],
  ])('passes --strict with %s', async (_name, values) => {
    const out = await helm(['lint', '--strict', chartDir], values);
    expect(out).toContain('0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});

describe('values.schema.json and template checks through helm', () => {
  it.each([
    [{ bogus: 1 }, "additional properties 'bogus' not allowed"],
    [{ controller: { replicas: 'two' } }, "at '/controller/replicas': got string, want integer"],
    [{ networks: { defaultNetworks: 'kube-system/net' } }, 'got string, want array'],
    [{ webhook: { certs: { mode: 'files' } } }, "at '/webhook/certs/mode'"],
    [{ createNamespace: true }, 'createNamespace needs a `namespace` other than the release namespace'],
    [{ ...certManager, webhook: { ...certManager.webhook, url: 'https://x:1' } }, 'webhook.url needs'],
  ])('rejects %j', async (values, message) => {
    const result = await helmRun(['template', 'multinet', chartDir, '-n', 'multinet'], values);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});

describe("the chart's ValidatingWebhookConfiguration", () => {
  const service = {
    service: {
      name: webhookDefaults.serviceName,
      namespace: webhookDefaults.namespace,
      port: webhookDefaults.servicePort,
    },
  };

  it('is what the webhook renders from webhookDefaults, for release "multinet" in namespace "multinet"', async () => {
    const rendered = webhookConfiguration(await renderChart({}));
    expect(rendered.metadata.name).toBe(webhookDefaults.configName);
    expect(rendered).toEqual(expected(defaultWebhookConfigValues(service), rendered));
    expect(rendered.metadata.labels).toMatchObject({
      'app.kubernetes.io/part-of': 'multinet',
      'app.kubernetes.io/component': 'webhook',
    });
  });

  it('follows failurePolicy, timeoutSeconds, excluded namespaces and the object selector', async () => {
    const rendered = webhookConfiguration(
      await renderChart(everything, { release: 'mn', namespace: 'net-system' }),
    );
    const values: WebhookConfigValues = {
      name: 'mn-multinet-webhook',
      target: { service: { name: 'mn-multinet-webhook', namespace: 'net-system', port: 443 } },
      failurePolicy: 'Ignore',
      timeoutSeconds: 5,
      excludedNamespaces: ['kube-system', 'net-system', 'monitoring'],
      objectSelector: { matchLabels: { 'multinet.io/team': 'net' } },
    };
    expect(rendered).toEqual(expected(values, rendered));
    // webhook.injectResources: the resource injector's configuration, from the same values.
    const mutating = findObject(
      await renderChart(everything, { release: 'mn', namespace: 'net-system' }),
      'MutatingWebhookConfiguration',
    );
    expect(mutating).toEqual(
      JSON.parse(
        JSON.stringify(renderMutatingWebhookConfiguration({ ...values, labels: mutating.metadata.labels })),
      ),
    );
  });

  it('has no resource injector unless webhook.injectResources is on', async () => {
    const objects = await renderChart({});
    expect(objects.filter((o) => o.kind === 'MutatingWebhookConfiguration')).toEqual([]);
    expect(componentArgs(objects, 'webhook')).not.toContain('--inject-resources');
  });

  it('calls a URL instead of the Service, with a namespace selector of its own', async () => {
    const namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': 'lab' } };
    const url = 'https://127.0.0.1:9443/';
    const objects = await renderChart({ webhook: { url, namespaceSelector } });
    const rendered = webhookConfiguration(objects);
    const values = { ...defaultWebhookConfigValues({ url }), namespaceSelector };
    expect(rendered).toEqual(expected(values, rendered));
    expect(componentArgs(objects, 'webhook')).toContain(`--url=${url}`);
  });

  it('leaves the caBundle to cert-manager in cert-manager mode', async () => {
    const objects = await renderChart(certManager);
    const { annotations, ...metadata } = webhookConfiguration(objects).metadata;
    expect(annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'multinet/multinet-webhook' });
    const rendered = { ...webhookConfiguration(objects), metadata };
    expect(rendered).toEqual(expected(defaultWebhookConfigValues(service), rendered));
    expect(findObject(objects, 'Certificate', 'multinet-webhook')).toBeDefined();
  });
});

describe('server-side validation of the rendered chart', () => {
  let namespace: string;
  beforeAll(async () => {
    namespace = await createTestNamespace('chart-dry-run');
  });

  it.each([
    ['the defaults', {}],
    ['every option set', everything],
    ['cert-manager mode (without the cert-manager.io objects: no cert-manager here)', certManager],
  ])('accepts every object with %s', async (_name, values) => {
    const objects = (
      await renderChart(values, { release: 'dry', namespace, extraArgs: ['--include-crds'] })
    ).filter((o) => !o.apiVersion.startsWith('cert-manager.io/'));
    const result = await kubectl(
      testKubeconfigPath(),
      ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'],
      objects.map((o) => yaml.dump(o)).join('---\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const applied = result.stdout.trim().split('\n');
    expect(applied).toHaveLength(objects.length);
    expect(applied.every((line) => line.endsWith('serverside-applied (server dry run)'))).toBe(true);
  });
});
