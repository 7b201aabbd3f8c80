/** `multinet webhook` flags: defaults, modes, targets and usage errors; `register --print` output. */
import yaml from 'js-yaml';
import { runCli } from './commands.ts';
import { UsageError } from './io.ts';
import { parseWebhookFlags } from './webhook-flags.ts';

test("defaults: loopback, self-managed Secret in multinet's namespace, Fail, 10 s", () => {
  const flags = parseWebhookFlags([], {});
  expect(flags).toMatchObject({
    action: 'serve',
    register: false,
    listen: { host: '127.0.0.1', port: 8443 },
    probeListen: undefined,
    certs: { mode: 'self-managed', secretNamespace: 'multinet', secretName: 'multinet-webhook-tls' },
    configName: 'multinet-webhook',
    target: undefined,
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    namespace: 'multinet',
    policy: {
      namespaceIsolation: false,
      globalNamespaces: [],
      defaultNetworks: [],
      systemNamespaces: ['kube-system'],
    },
  });
});

test('in-cluster flags', () => {
  const flags = parseWebhookFlags(
    [
      '--listen',
      '0.0.0.0:8443',
      '--probe-listen',
      '0.0.0.0:8081',
      '--service-name',
      'multinet-webhook',
      '--namespace-isolation',
      '--global-namespaces',
      'shared, infra',
      '--default-networks',
      'infra/storage',
      '--failure-policy',
      'Ignore',
      '--timeout-seconds',
      '5',
      '--log-level',
      'debug',
    ],
    { POD_NAMESPACE: 'multinet-system', KUBECONFIG: '/kc' },
  );
  expect(flags).toMatchObject({
    kubeconfig: '/kc',
    listen: { host: '0.0.0.0', port: 8443 },
    probeListen: { host: '0.0.0.0', port: 8081 },
    target: { service: { name: 'multinet-webhook', namespace: 'multinet-system', port: 443 } },
    certs: { mode: 'self-managed', secretNamespace: 'multinet-system' },
    failurePolicy: 'Ignore',
    timeoutSeconds: 5,
    policy: {
      namespaceIsolation: true,
      globalNamespaces: ['shared', 'infra'],
      defaultNetworks: ['infra/storage'],
    },
    logLevel: 'debug',
  });
});

test('files mode and register actions', () => {
  expect(
    parseWebhookFlags(['--cert-mode', 'files', '--tls-cert-file', '/c', '--tls-key-file', '/k'], {}).certs,
  ).toEqual({ mode: 'files', certFile: '/c', keyFile: '/k', caFile: undefined });
  expect(parseWebhookFlags(['register', '--url', 'https://127.0.0.1:9443'], {})).toMatchObject({
    action: 'register',
    target: { url: 'https://127.0.0.1:9443' },
  });
  expect(parseWebhookFlags(['register', '--delete'], {}).action).toBe('delete');
});

test.each([
  [['--cert-mode', 'files'], /needs --tls-cert-file and --tls-key-file/],
  [['--cert-mode', 'acme'], /--cert-mode must be self-managed or files/],
  [['--tls-cert-file', '/c'], /need --cert-mode files/],
  [['--url', 'http://x:1'], /must be an https:\/\/ URL/],
  [['--url', 'https://x:1', '--service-name', 's'], /not both/],
  [['--listen', 'localhost'], /--listen must be ADDRESS:PORT/],
  [['--timeout-seconds', '31'], /from 1 to 30/],
  [['--failure-policy', 'fail'], /Fail or Ignore/],
  [['--print'], /go with "register"/],
  [['serve'], /unexpected argument "serve"/],
  [['--default-networks', 'storage'], /must be namespace\/name/],
])('usage error for %j', (args, message) => {
  expect(() => parseWebhookFlags(args, {})).toThrow(UsageError);
  expect(() => parseWebhookFlags(args, {})).toThrow(message);
});

test('register --print prints the configuration as YAML without touching a cluster', async () => {
  let out = '';
  const code = await runCli(['webhook', 'register', '--print', '--service-name', 'multinet-webhook'], {
    io: { stdout: (t) => (out += t), stderr: () => undefined, readInput: () => Promise.resolve('') },
    env: {},
    signal: new AbortController().signal,
  });
  expect(code).toBe(0);
  const config = yaml.load(out) as { kind: string; webhooks: Array<{ clientConfig: object }> };
  expect(config.kind).toBe('ValidatingWebhookConfiguration');
  expect(config.webhooks[1]!.clientConfig).toEqual({
    service: { name: 'multinet-webhook', namespace: 'multinet', port: 443, path: '/validate/pods' },
  });
});

test('--help documents every flag', async () => {
  let out = '';
  await runCli(['webhook', '--help'], {
    io: { stdout: (t) => (out += t), stderr: () => undefined, readInput: () => Promise.resolve('') },
    env: {},
    signal: new AbortController().signal,
  });
  for (const flag of [
    'kubeconfig',
    'namespace',
    'listen',
    'probe-listen',
    'cert-mode',
    'secret-namespace',
    'secret-name',
    'tls-cert-file',
    'tls-key-file',
    'ca-file',
    'webhook-config-name',
    'url',
    'service-name',
    'service-namespace',
    'service-port',
    'failure-policy',
    'timeout-seconds',
    'register',
    'print',
    'delete',
    'namespace-isolation',
    'global-namespaces',
    'default-networks',
    'system-namespaces',
    'log-level',
    'log-format',
  ]) {
    expect(out).toContain(`--${flag} `);
  }
});
