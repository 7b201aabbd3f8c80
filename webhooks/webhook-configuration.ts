/**
 * The ValidatingWebhookConfiguration (and, with the resource injector on, the MutatingWebhookConfiguration
 * of the same name), rendered from one set of values: the `multinet webhook` command applies them, the
 * tests register them, and the Helm chart templates the same objects from the same defaults
 * (webhookDefaults is the one place they live).
 */
import type {
  V1LabelSelector,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhook,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { defaultNetworkAnnotation, networksAnnotation } from '../lib/annotations/keys.ts';
import { draDriver } from '../lib/dra.ts';
import { nadGroup, nadPlural, nadVersion } from '../lib/nad.ts';

export const webhookPaths = {
  nads: '/validate/network-attachment-definitions',
  pods: '/validate/pods',
  /** ResourceClaims and ResourceClaimTemplates that give the DRA driver networks.multinet.io a config. */
  claims: '/validate/resourceclaims',
  /** The resource injector (mutating). */
  injectPods: '/mutate/pods',
} as const;

export const webhookDefaults = {
  configName: 'multinet-webhook',
  /** multinet's own namespace: where the Secret and Service live; excluded from validation. */
  namespace: 'multinet',
  secretName: 'multinet-webhook-tls',
  serviceName: 'multinet-webhook',
  servicePort: 443,
  listen: '127.0.0.1:8443',
  failurePolicy: 'Fail',
  timeoutSeconds: 10,
  /** Objects labelled `multinet.io/validate: "false"` are not sent to the webhook. */
  optOutLabel: 'multinet.io/validate',
  alwaysExcludedNamespaces: ['kube-system'],
  webhookNames: {
    nads: 'nads.multinet.io',
    pods: 'pods.multinet.io',
    claims: 'resourceclaims.multinet.io',
    injectPods: 'resources.multinet.io',
  },
} as const;

export type FailurePolicy = 'Fail' | 'Ignore';

/** How the API server reaches the webhook: a Service in the cluster, or a URL (tests, playground). */
export type WebhookTarget =
  | { readonly url: string }
  | { readonly service: { readonly name: string; readonly namespace: string; readonly port: number } };

export interface WebhookConfigValues {
  readonly name: string;
  readonly target: WebhookTarget;
  /** PEM of the CA(s) that signed the serving certificate; left out when cert-manager injects it. */
  readonly caBundlePem?: string | undefined;
  readonly failurePolicy: FailurePolicy;
  readonly timeoutSeconds: number;
  /** Namespaces whose objects are never validated (kube-system and multinet's own). */
  readonly excludedNamespaces: readonly string[];
  /** Replaces the namespace selector built from excludedNamespaces (tests scope it to one namespace). */
  readonly namespaceSelector?: V1LabelSelector | undefined;
  /** Added to the opt-out label expression (tests scope it further). */
  readonly objectSelector?: V1LabelSelector | undefined;
  readonly labels?: Readonly<Record<string, string>>;
}

export function defaultWebhookConfigValues(
  target: WebhookTarget,
  namespace: string = webhookDefaults.namespace,
): WebhookConfigValues {
  return {
    name: webhookDefaults.configName,
    target,
    failurePolicy: webhookDefaults.failurePolicy,
    timeoutSeconds: webhookDefaults.timeoutSeconds,
    excludedNamespaces: [...new Set<string>([...webhookDefaults.alwaysExcludedNamespaces, namespace])],
  };
}

/**
 * Pods without either annotation are skipped by the API server itself (CEL match condition), so the
 * webhook sees only pods that select networks: most pods cost it nothing.
 */
function annotationOf(object: 'object' | 'oldObject', key: string): string {
  return `(has(${object}.metadata.annotations) && '${key}' in ${object}.metadata.annotations ? ${object}.metadata.annotations['${key}'] : '')`;
}

/**
 * Pods reach the webhook only when they select networks: on CREATE when either annotation is set, on
 * UPDATE only when one of them changes. Most pods cost the webhook nothing, and the agent's
 * network-status patch never depends on the webhook being up (failurePolicy Fail).
 */
const podMatchCondition = {
  name: 'selects-networks',
  expression:
    `request.operation == 'CREATE' ? ` +
    `(${annotationOf('object', networksAnnotation)} != '' || ${annotationOf('object', defaultNetworkAnnotation)} != '') : ` +
    `(${annotationOf('object', networksAnnotation)} != ${annotationOf('oldObject', networksAnnotation)} || ` +
    `${annotationOf('object', defaultNetworkAnnotation)} != ${annotationOf('oldObject', defaultNetworkAnnotation)})`,
};

/** The opaque configs of a claim spec name the DRA driver networks.multinet.io. */
function configsNameDriver(spec: string): string {
  return `has(${spec}.devices) && has(${spec}.devices.config) && ${spec}.devices.config.exists(c, has(c.opaque) && c.opaque.driver == '${draDriver}')`;
}

/** Claims and claim templates reach the webhook only when they give this driver a config. */
const claimMatchCondition = {
  name: 'configures-networks',
  expression:
    `request.resource.resource == 'resourceclaimtemplates' ? ` +
    `(has(object.spec.spec) && ${configsNameDriver('object.spec.spec')}) : (${configsNameDriver('object.spec')})`,
};

function clientConfig(values: WebhookConfigValues, path: string): V1ValidatingWebhook['clientConfig'] {
  const caBundle = values.caBundlePem ? Buffer.from(values.caBundlePem).toString('base64') : undefined;
  const target =
    'url' in values.target
      ? { url: `${values.target.url.replace(/\/+$/, '')}${path}` }
      : { service: { ...values.target.service, path } };
  return { ...target, ...(caBundle ? { caBundle } : {}) };
}

function selectors(
  values: WebhookConfigValues,
): Required<Pick<V1ValidatingWebhook, 'namespaceSelector' | 'objectSelector'>> {
  const optOut = { key: webhookDefaults.optOutLabel, operator: 'NotIn', values: ['false'] };
  const namespaceSelector: V1LabelSelector = values.namespaceSelector ?? {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...values.excludedNamespaces] },
      optOut,
    ],
  };
  const objectSelector: V1LabelSelector = {
    ...(values.objectSelector?.matchLabels ? { matchLabels: values.objectSelector.matchLabels } : {}),
    matchExpressions: [optOut, ...(values.objectSelector?.matchExpressions ?? [])],
  };
  return { namespaceSelector, objectSelector };
}

function common(
  values: WebhookConfigValues,
): Pick<
  V1ValidatingWebhook,
  'failurePolicy' | 'matchPolicy' | 'sideEffects' | 'admissionReviewVersions' | 'timeoutSeconds'
> &
  ReturnType<typeof selectors> {
  return {
    failurePolicy: values.failurePolicy,
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: values.timeoutSeconds,
    ...selectors(values),
  };
}

function metadataOf(values: WebhookConfigValues): { name: string; labels: Record<string, string> } {
  return {
    name: values.name,
    labels: {
      'app.kubernetes.io/part-of': 'multinet',
      'app.kubernetes.io/component': 'webhook',
      ...values.labels,
    },
  };
}

export function renderWebhookConfiguration(values: WebhookConfigValues): V1ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: metadataOf(values),
    webhooks: [
      {
        name: webhookDefaults.webhookNames.nads,
        clientConfig: clientConfig(values, webhookPaths.nads),
        rules: [
          {
            apiGroups: [nadGroup],
            apiVersions: [nadVersion],
            operations: ['CREATE', 'UPDATE'],
            resources: [nadPlural],
            scope: 'Namespaced',
          },
        ],
        ...common(values),
      },
      {
        name: webhookDefaults.webhookNames.pods,
        clientConfig: clientConfig(values, webhookPaths.pods),
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        matchConditions: [podMatchCondition],
        ...common(values),
      },
      {
        name: webhookDefaults.webhookNames.claims,
        clientConfig: clientConfig(values, webhookPaths.claims),
        rules: [
          {
            apiGroups: ['resource.k8s.io'],
            apiVersions: ['v1'],
            operations: ['CREATE'],
            resources: ['resourceclaims', 'resourceclaimtemplates'],
            scope: 'Namespaced',
          },
        ],
        matchConditions: [claimMatchCondition],
        ...common(values),
      },
    ],
  };
}

/**
 * The resource injector's configuration (webhook.injectResources): pod CREATEs that select networks,
 * before the validating webhook sees them. Its name is the validating configuration's (another kind).
 */
export function renderMutatingWebhookConfiguration(
  values: WebhookConfigValues,
): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: metadataOf(values),
    webhooks: [
      {
        name: webhookDefaults.webhookNames.injectPods,
        clientConfig: clientConfig(values, webhookPaths.injectPods),
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        matchConditions: [podMatchCondition],
        reinvocationPolicy: 'Never',
        ...common(values),
      },
    ],
  };
}
