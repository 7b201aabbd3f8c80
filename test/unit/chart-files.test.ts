/**
 * The Helm chart's files, without helm: its CRDs are byte-identical copies of crds/ (the source of
 * truth), values.schema.json accepts values.yaml and rejects wrong types and unknown keys, and the
 * defaults in values.yaml are the components' own defaults.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import { agentFlagDefaults } from '../../cli/agent-flags.ts';
import { controllerFlagDefaults } from '../../cli/controller-flags.ts';
import { webhookDefaults } from '../../webhooks/webhook-configuration.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chart = join(root, 'charts', 'multinet');
const read = (...parts: string[]): string => readFileSync(join(...parts), 'utf8');
const values = yaml.load(read(chart, 'values.yaml')) as Record<string, Record<string, unknown>>;
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
  JSON.parse(read(chart, 'values.schema.json')) as object,
);

/** values.yaml with one change at a dotted path. */
function withValue(path: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(values)) as Record<string, unknown>;
  const keys = path.split('.');
  let target = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[keys[keys.length - 1]!] = value;
  return copy;
}

describe('charts/multinet files', () => {
  it('carries byte-identical copies of every CRD in crds/ (helm does not follow symlinks out of a chart)', () => {
    const sources = readdirSync(join(root, 'crds')).sort();
    expect(sources.length).toBeGreaterThan(0);
    expect(readdirSync(join(chart, 'crds')).sort()).toEqual(sources);
    for (const name of sources) {
      expect({ name, text: read(chart, 'crds', name) }).toEqual({ name, text: read(root, 'crds', name) });
    }
  });

  it("has the project's version as appVersion (the default image tag)", () => {
    const meta = yaml.load(read(chart, 'Chart.yaml')) as Record<string, unknown>;
    const pkg = JSON.parse(read(root, 'package.json')) as { version: string };
    expect(meta).toMatchObject({ apiVersion: 'v2', name: 'multinet', appVersion: pkg.version });
  });

  it('installs the shim from where the Dockerfile puts it', () => {
    const copied = /^COPY --from=\S+ \S*multinet-cni (\S+)$/m.exec(read(root, 'Dockerfile'))?.[1];
    expect(copied).toBe('/usr/local/lib/multinet/multinet-cni');
    expect(read(chart, 'templates', 'agent', 'daemonset.yaml')).toContain(`--shim-source=${copied}`);
  });

  it('validates its own values.yaml against values.schema.json', () => {
    expect(validate(values) ? [] : validate.errors).toEqual([]);
  });

  it.each([
    ['an unknown top-level key', 'replicas', 2],
    ['an unknown nested key (a typo)', 'agent.cniConfdir', '/etc/cni/net.d'],
    ['a string for an integer', 'controller.replicas', '2'],
    ['a string for a list', 'networks.defaultNetworks', 'kube-system/net'],
    ['a NAD reference without a namespace', 'networks.defaultNetworks', ['macvlan-conf']],
    ['a failure policy in the wrong case', 'webhook.failurePolicy', 'fail'],
    ['a timeout over 30 s', 'webhook.timeoutSeconds', 31],
    ['an unknown cert mode', 'webhook.certs.mode', 'files'],
    ['an http:// webhook URL', 'webhook.url', 'http://127.0.0.1:8443'],
    ['a relative host path', 'agent.cniBinDir', 'opt/cni/bin'],
    ['an extra argument that is not a flag', 'agent.extraArgs', ['debug']],
    ['an unknown log level', 'logLevel', 'verbose'],
    ['a namespace that is not a DNS label', 'namespace', 'Multinet'],
    ['an unknown key in a label selector', 'webhook.namespaceSelector', { matchLabel: { a: 'b' } }],
  ])('rejects %s', (_what, path, value) => {
    expect(validate(withValue(path, value))).toBe(false);
  });

  it("defaults to the components' own defaults", () => {
    const { agent, controller, webhook, networks } = values;
    const d = agentFlagDefaults;
    expect(agent).toMatchObject({
      cniConfDir: d.cniConfDir,
      cniBinDir: d.cniBinDirs,
      stateDir: d.stateDir,
      socketDir: dirname(d.socket),
      heartbeatSeconds: d.heartbeatSeconds,
      delegateTimeoutSeconds: d.delegateTimeoutSeconds,
      agentWaitSeconds: d.agentWaitSeconds,
      maxParallel: d.maxParallel,
      maxQueued: d.maxQueued,
      probePort: Number(d.probeListen.split(':')[1]),
      multusCacheDir: d.multusCacheDir,
    });
    expect(networks).toMatchObject({
      systemNamespaces: d.systemNamespaces.split(','),
      readinessTimeoutSeconds: d.readinessTimeoutSeconds,
    });
    const c = controllerFlagDefaults;
    expect(controller).toMatchObject({
      workers: c.workers,
      staleAfterSeconds: c.staleAfterSeconds,
      kubeApiQps: c.qps,
      kubeApiBurst: c.burst,
      probePort: Number(c.probe.slice(1)),
    });
    expect(webhook).toMatchObject({
      failurePolicy: webhookDefaults.failurePolicy,
      timeoutSeconds: webhookDefaults.timeoutSeconds,
      port: Number(webhookDefaults.listen.split(':')[1]),
      service: { port: webhookDefaults.servicePort },
    });
  });
});
