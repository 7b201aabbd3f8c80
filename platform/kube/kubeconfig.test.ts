import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  inClusterConfig,
  loadKubeConfig,
  parseKubeconfig,
  readCredentials,
  type ClusterConfig,
} from './kubeconfig.ts';

const pem = (what: string): string => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'multinet-kubeconfig-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(user: object, cluster: object = {}, extra: object = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://192.0.2.10:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
    'current-context': 'ctx',
    ...extra,
  });
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('a YAML kubeconfig with inline client certificates and CA', async () => {
  const path = write(
    'config',
    `apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster:
      server: https://192.0.2.10:6443/
      certificate-authority-data: ${b64(pem('CERTIFICATE'))}
      tls-server-name: kubernetes.default
users:
  - name: u
    user:
      client-certificate-data: ${b64(pem('CERTIFICATE'))}
      client-key-data: ${b64(pem('EC PRIVATE KEY'))}
contexts:
  - name: ctx
    context: { cluster: c, user: u, namespace: team }
current-context: ctx
`,
  );
  const config = loadKubeConfig({ kubeconfig: path });
  expect(config).toMatchObject({
    server: 'https://192.0.2.10:6443',
    tlsServerName: 'kubernetes.default',
    namespace: 'team',
    origin: `kubeconfig ${path} (context ctx)`,
  });
  const credentials = await readCredentials(config);
  expect(credentials.ca).toBe(pem('CERTIFICATE'));
  expect(credentials.key).toBe(pem('EC PRIVATE KEY'));
  expect(credentials.headers).toEqual({});
});

test('files named by the kubeconfig are relative to it and read again on every refresh', async () => {
  write('ca.crt', pem('CERTIFICATE'));
  write('token', 'first\n');
  const path = write('config', kubeconfig({ tokenFile: 'token' }, { 'certificate-authority': 'ca.crt' }));
  const config = loadKubeConfig({ kubeconfig: path });
  expect(config.token).toEqual({ file: join(dir, 'token') });
  expect((await readCredentials(config)).headers).toEqual({ Authorization: 'Bearer first' });
  write('token', 'rotated');
  expect((await readCredentials(config)).headers).toEqual({ Authorization: 'Bearer rotated' });
});

test('tokens, basic auth and insecure-skip-tls-verify', async () => {
  const token = parseKubeconfig(kubeconfig({ token: 'abc' }, { 'insecure-skip-tls-verify': true }), 'inline');
  expect(token.insecureSkipTlsVerify).toBe(true);
  expect((await readCredentials(token)).headers.Authorization).toBe('Bearer abc');
  const basic = parseKubeconfig(kubeconfig({ username: 'admin', password: 'secret' }), 'inline');
  expect((await readCredentials(basic)).headers.Authorization).toBe(`Basic ${b64('admin:secret')}`);
});

test('a list of files is merged as kubectl does: the first to name an entry or the current context wins', () => {
  const first = write(
    'a',
    JSON.stringify({
      users: [{ name: 'u', user: { token: 'from-a' } }],
      'current-context': 'ctx',
    }),
  );
  const second = write('b', kubeconfig({ token: 'from-b' }, {}, { 'current-context': 'other' }));
  const config = loadKubeConfig({ kubeconfig: `${first}:${second}` });
  expect(config.token).toEqual({ data: 'from-a' });
  expect(config.server).toBe('https://192.0.2.10:6443');
});

test.each([
  [
    'an exec plugin',
    kubeconfig({ exec: { command: 'aws' } }),
    'users[0].user.exec: credential plugins are not supported',
  ],
  ['an auth provider', kubeconfig({ 'auth-provider': { name: 'oidc' } }), 'users[0].user.auth-provider'],
  ['a missing server', kubeconfig({}, { server: '' }), 'clusters[0].cluster.server: not set'],
  [
    'a server that is not a URL',
    kubeconfig({}, { server: 'nope' }),
    'clusters[0].cluster.server: "nope" is not a URL',
  ],
  [
    'an unknown current context',
    kubeconfig({}, {}, { 'current-context': 'gone' }),
    'current-context: "gone" is not among the contexts (ctx)',
  ],
  ['no current context', kubeconfig({}, {}, { 'current-context': '' }), 'current-context: not set'],
  [
    'a certificate without its key',
    kubeconfig({ 'client-certificate-data': b64(pem('CERTIFICATE')) }),
    'users[0].user.client-key(-data): needed with the client certificate',
  ],
  [
    'data that is not base64 PEM',
    kubeconfig({}, { 'certificate-authority-data': 'bm9wZQ==' }),
    'clusters[0].cluster.certificate-authority-data: is not base64 of a PEM block',
  ],
  [
    'a missing certificate file',
    kubeconfig({}, { 'certificate-authority': '/nonexistent/ca.crt' }),
    'clusters[0].cluster.certificate-authority: cannot read /nonexistent/ca.crt',
  ],
  [
    'a proxy',
    kubeconfig({}, { 'proxy-url': 'http://192.0.2.1:3128' }),
    'clusters[0].cluster.proxy-url: proxies are not supported',
  ],
  [
    'a user that is not defined',
    JSON.stringify({
      clusters: [{ name: 'c', cluster: { server: 'https://192.0.2.1' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'nobody' } }],
      'current-context': 'x',
    }),
    'contexts[0].context.user: no user named "nobody"',
  ],
  ['a list that is not a list', JSON.stringify({ clusters: {} }), 'clusters: must be a list'],
  ['YAML that does not parse', 'clusters: [', 'not valid YAML'],
])('%s is refused with the field named', (_what, text, message) => {
  expect(() => parseKubeconfig(text, 'test.yaml')).toThrow(message);
});

test('a missing kubeconfig file names the file', () => {
  expect(() => loadKubeConfig({ kubeconfig: join(dir, 'absent') })).toThrow(
    `cannot read kubeconfig ${join(dir, 'absent')}`,
  );
});

describe('in-cluster', () => {
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  test('the ServiceAccount token is a file, read again as it rotates', async () => {
    write('token', 'bound-1');
    write('ca.crt', pem('CERTIFICATE'));
    write('namespace', 'multinet\n');
    const config: ClusterConfig = loadKubeConfig({ env, serviceAccountDir: dir });
    expect(config).toMatchObject({ server: 'https://10.96.0.1:443', namespace: 'multinet' });
    expect((await readCredentials(config)).headers.Authorization).toBe('Bearer bound-1');
    write('token', 'bound-2');
    expect((await readCredentials(config)).headers.Authorization).toBe('Bearer bound-2');
  });

  test('an IPv6 service host is bracketed', () => {
    write('token', 't');
    expect(inClusterConfig({ ...env, KUBERNETES_SERVICE_HOST: '2001:db8::1' }, dir).server).toBe(
      'https://[2001:db8::1]:443',
    );
  });

  test('outside a cluster, or without the token file, the error says so', () => {
    expect(() => loadKubeConfig({ env: {} })).toThrow('not running in a cluster');
    expect(() => loadKubeConfig({ env, serviceAccountDir: dir })).toThrow(
      `in-cluster: cannot read the ServiceAccount token ${dir}/token`,
    );
  });
});
