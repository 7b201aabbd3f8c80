/** The rendered ValidatingWebhookConfiguration: the defaults users and the chart rely on. */
import {
  defaultWebhookConfigValues,
  renderWebhookConfiguration,
  webhookDefaults,
} from './webhook-configuration.ts';
import { servingNames } from './serving-names.ts';

test('defaults: Fail, sideEffects None, v1 reviews, kube-system and multinet excluded, opt-out label', () => {
  const config = renderWebhookConfiguration({
    ...defaultWebhookConfigValues({
      service: { name: 'multinet-webhook', namespace: 'multinet', port: 443 },
    }),
    caBundlePem: 'PEM',
  });
  expect(config.metadata?.name).toBe(webhookDefaults.configName);
  expect(config.webhooks?.map((w) => w.name)).toEqual([
    'nads.multinet.io',
    'pods.multinet.io',
    'resourceclaims.multinet.io',
  ]);
  for (const webhook of config.webhooks ?? []) {
    expect(webhook).toMatchObject({
      failurePolicy: 'Fail',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 10,
      namespaceSelector: {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'multinet'] },
          { key: 'multinet.io/validate', operator: 'NotIn', values: ['false'] },
        ],
      },
      objectSelector: {
        matchExpressions: [{ key: 'multinet.io/validate', operator: 'NotIn', values: ['false'] }],
      },
    });
    expect(webhook.clientConfig.caBundle).toBe(Buffer.from('PEM').toString('base64'));
  }
  const [nads, pods] = config.webhooks!;
  expect(nads!.clientConfig.service).toEqual({
    name: 'multinet-webhook',
    namespace: 'multinet',
    port: 443,
    path: '/validate/network-attachment-definitions',
  });
  expect(nads!.rules).toEqual([
    {
      apiGroups: ['k8s.cni.cncf.io'],
      apiVersions: ['v1'],
      operations: ['CREATE', 'UPDATE'],
      resources: ['network-attachment-definitions'],
      scope: 'Namespaced',
    },
  ]);
  expect(pods!.rules![0]).toMatchObject({
    apiGroups: [''],
    resources: ['pods'],
    operations: ['CREATE', 'UPDATE'],
  });
  expect(pods!.matchConditions![0]!.expression).toContain(
    "'k8s.v1.cni.cncf.io/networks' in object.metadata.annotations",
  );
});

test('url targets get the paths appended; selectors can be scoped; no caBundle when none is given', () => {
  const config = renderWebhookConfiguration({
    ...defaultWebhookConfigValues({ url: 'https://127.0.0.1:8443/' }),
    failurePolicy: 'Ignore',
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'test-ns' } },
    objectSelector: { matchLabels: { app: 'x' } },
  });
  const pods = config.webhooks![1]!;
  expect(pods.clientConfig).toEqual({ url: 'https://127.0.0.1:8443/validate/pods' });
  expect(pods.failurePolicy).toBe('Ignore');
  expect(pods.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'test-ns' } });
  expect(pods.objectSelector).toEqual({
    matchLabels: { app: 'x' },
    matchExpressions: [{ key: 'multinet.io/validate', operator: 'NotIn', values: ['false'] }],
  });
});

test('serving names for a Service and for a URL', () => {
  expect(servingNames({ service: { name: 'w', namespace: 'm', port: 443 } }).dnsNames).toEqual([
    'w',
    'w.m',
    'w.m.svc',
    'w.m.svc.cluster.local',
  ]);
  expect(servingNames({ url: 'https://127.0.0.1:8443' })).toEqual({
    dnsNames: [],
    ipAddresses: ['127.0.0.1'],
  });
  expect(servingNames({ url: 'https://[::1]:8443' })).toEqual({ dnsNames: [], ipAddresses: ['::1'] });
  expect(servingNames({ url: 'https://webhook.example:8443' })).toEqual({
    dnsNames: ['webhook.example'],
    ipAddresses: [],
  });
});
