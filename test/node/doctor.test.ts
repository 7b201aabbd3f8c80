/**
 * `multinet doctor` on the real node, as an operator runs it (bin/multinet with the admin kubeconfig, and
 * `kubectl multinet doctor` through bin/kubectl-multinet on PATH), multinet installed with helm: nothing
 * wrong on a healthy install; then each fault made on purpose is found and named with what to do: the
 * generated config removed (the agent writes it again, doctor says something removed it), a NAD whose
 * master the node lacks, a pod stuck on a plugin the node lacks (`doctor pod`), the agent stopped (its
 * DaemonSet no longer selects the node: no agent, then a stale NodeNetworkState).
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { repoRoot } from '../../dev/repo-root.ts';
import type { KubeNode } from '../../dev/node/kube-node.ts';
import { installChartOnNode, type ChartOnNode } from '../../dev/node/multinet-chart.ts';
import { eventually } from '../../dev/eventually.ts';
import type { Finding } from '../../lib/doctor/report.ts';
import { seedNadForNode } from '../../playground/node-walkthrough.ts';
import { requireNodeHost, runProcess, startTestNode, type ProcessRun } from './support.ts';

let node: KubeNode;
let chart: ChartOnNode;
const work = mkdtempSync(join(tmpdir(), 'multinet-node-doctor-'));
const staleAfterSeconds = 20;

/** `multinet doctor ARGS` as a user runs it: bin/multinet, the kubeconfig in $KUBECONFIG. */
function doctor(...args: string[]): Promise<ProcessRun> {
  return runProcess(join(repoRoot, 'bin', 'multinet'), ['doctor', ...args], {
    PATH: process.env.PATH,
    HOME: work,
    KUBECONFIG: node.adminKubeconfigPath,
  });
}

async function findings(...args: string[]): Promise<{ code: number | null; findings: Finding[] }> {
  const out = await doctor(...args, '-o', 'json');
  if (!out.stdout.trim()) throw new Error(`doctor printed nothing (exit ${out.code}): ${out.stderr}`);
  return { code: out.code, findings: (JSON.parse(out.stdout) as { findings: Finding[] }).findings };
}

/** Runs doctor until a finding matches (the cluster converges on its own time), and returns it. */
async function found(
  what: string,
  match: (f: Finding) => boolean,
  args: string[] = [],
  timeoutMs = 90_000,
): Promise<{ code: number | null; finding: Finding; all: Finding[] }> {
  return eventually(
    what,
    async () => {
      const out = await findings(...args);
      const f = out.findings.find(match);
      return f ? { code: out.code, finding: f, all: out.findings } : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

async function kubectl(...args: string[]): Promise<string> {
  const out = await node.kubectl(args);
  if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim() || out.stdout.trim()}`);
  return out.stdout;
}

function apply(name: string, object: unknown): Promise<string> {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, yaml.dump(object));
  return kubectl('apply', '-f', file);
}

function nad(name: string, config: object): object {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace: 'default' },
    spec: { config: JSON.stringify({ cniVersion: '0.4.0', name, ...config }) },
  };
}

beforeAll(async () => {
  await requireNodeHost();
  node = await startTestNode({ defaultNetwork: 'bridge', extraImages: ['multinet'] });
  // Reports every 5 s, stale after 20 s: the agent stopped shows as a stale report within the test.
  chart = await installChartOnNode(node, {
    values: { agent: { heartbeatSeconds: 5 }, controller: { staleAfterSeconds } },
  });
  await apply('macvlan-conf', await seedNadForNode(node));
}, 1_200_000);

afterAll(async () => {
  await node?.stop();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('multinet doctor on the real node', () => {
  it('finds nothing wrong on a healthy install: colourless text with a summary line, exit 0', async () => {
    const out = await eventually(
      'a clean bill of health (the NAD Ready)',
      async () => {
        const r = await doctor();
        return r.code === 0 ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    expect(out.stdout).toMatch(/^multinet doctor: https:\/\/127\.0\.0\.1:\d+ \(kubeconfig /);
    expect(out.stdout).toContain(`node ${node.nodeName}`);
    expect(out.stdout).toMatch(/✓ agent +multinet-agent-\S+ Running and Ready/);
    expect(out.stdout).toMatch(
      /✓ config +\S+00-multinet.conflist is the config the runtime uses, made from the default network/,
    );
    expect(out.stdout).toMatch(/✓ shim +\S+multinet-cni 0\.\d+\.\d+, the agent's own/);
    expect(out.stdout).toMatch(/✓ default\/macvlan-conf +Ready \(1\/1 nodes\)/);
    expect(out.stdout.trimEnd().split('\n').at(-1)).toBe(
      '✓ no problems found (1 node, 1 NetworkAttachmentDefinition checked)',
    );
    expect(out.stdout).not.toContain('\u001b[');
    expect(out.stderr).toBe('');
  }, 120_000);

  it('runs as a kubectl plugin: `kubectl multinet doctor` with bin/kubectl-multinet on PATH', async () => {
    const out = await runProcess(node.kubectlPath, ['multinet', 'doctor', '--color', 'always'], {
      PATH: `${join(repoRoot, 'bin')}:${process.env.PATH ?? ''}`,
      HOME: work,
      KUBECONFIG: node.adminKubeconfigPath,
    });
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(out.stdout).toContain('\u001b[32m✓ no problems found');
  });

  it('finds the generated config removed by something else (the agent wrote it again), exit 1', async () => {
    const file = join(node.layout.cniConfDir, '00-multinet.conflist');
    unlinkSync(file);
    const { code, finding } = await found(
      'the removal reported',
      (f) => f.check === 'config' && f.severity === 'warning',
    );
    expect(code).toBe(1);
    expect(finding).toMatchObject({
      scope: 'node',
      subject: node.nodeName,
      message: expect.stringMatching(
        /^something else removed \S+00-multinet\.conflist \d+ s ago .*; the agent wrote it again, but pods created in between got only the default network$/,
      ),
      fix: expect.stringContaining(`find what touches ${node.layout.cniConfDir}`),
    });
  }, 120_000);

  it('finds a NAD whose master the node lacks, with the interface and the node named', async () => {
    await apply(
      'bad-master',
      nad('bad-master', {
        type: 'macvlan',
        master: 'nosuch0',
        ipam: { type: 'host-local', subnet: '203.0.113.0/24' },
      }),
    );
    const { code, finding } = await found(
      'default/bad-master reported',
      (f) => f.subject === 'default/bad-master' && f.severity === 'error',
    );
    expect(code).toBe(1);
    expect(finding.message).toContain(`interface nosuch0 missing on ${node.nodeName}`);
    expect(finding.fix).toBe(
      'create the host interface on the nodes named above, or point the config at one they have (master, device)',
    );
  }, 120_000);

  it('says why a pod is stuck on a plugin the node lacks, and what to fix (doctor pod)', async () => {
    await apply(
      'acme',
      nad('acme', { type: 'acme-cni', ipam: { type: 'host-local', subnet: '203.0.113.0/24' } }),
    );
    await apply('stuck', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'stuck',
        namespace: 'default',
        annotations: { 'k8s.v1.cni.cncf.io/networks': 'acme' },
      },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'c', image: 'alpine', command: ['/bin/ash', '-c', 'sleep infinity'] }],
      },
    });
    const { code, finding, all } = await found(
      'the stuck pod diagnosed with its sandbox error',
      (f) => f.check === 'sandbox',
      ['pod', 'default/stuck'],
    );
    expect(code).toBe(1);
    expect(finding.message).toMatch(/^Pending: FailedCreatePodSandBox/);
    expect(all).toContainEqual(
      expect.objectContaining({
        check: 'network',
        severity: 'error',
        message: expect.stringMatching(
          /^net1: default\/acme is not attached: node \S+ has no plugin acme-cni/,
        ),
        fix: expect.stringMatching(/^install acme-cni into \S+ on /),
      }),
    );
    const text = await doctor('pod', 'default/stuck');
    process.stdout.write(`[node tier] multinet doctor pod default/stuck:\n${text.stdout}\n`);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/asked for\n {2}net1 +default\/acme/);
    expect(text.stdout).toMatch(/events\n[\s\S]*FailedCreatePodSandBox/);
    expect(text.stdout).toMatch(/fix: install acme-cni into/);
    // And the NAD itself is named on the cluster's page.
    const cluster = await found(
      'default/acme reported',
      (f) => f.subject === 'default/acme' && f.severity === 'error',
    );
    expect(cluster.finding.message).toContain('plugin acme-cni missing');
    await kubectl('delete', 'pod', 'stuck', '--wait=true');
  }, 240_000);

  it('finds the agent stopped (its DaemonSet no longer selects the node), then its report stale', async () => {
    const ds = `${chart.fullname}-agent`;
    await kubectl(
      '-n',
      chart.namespace,
      'patch',
      'daemonset',
      ds,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { template: { spec: { nodeSelector: { 'multinet.io/doctor-test': 'off' } } } },
      }),
    );
    const agent = await found(
      'the agent missing from the node',
      (f) => f.scope === 'node' && f.check === 'agent' && f.severity === 'error',
    );
    expect(agent.code).toBe(1);
    expect(agent.finding.message).toMatch(
      /^no multinet agent runs on this node: the DaemonSet multinet\/\S+ does not select it \(its nodeSelector wants multinet\.io\/doctor-test=off\)/,
    );
    expect(agent.finding.fix).toContain(`kubectl label node ${node.nodeName} multinet.io/doctor-test=off`);
    const report = await found(
      'the report stale',
      (f) => f.scope === 'node' && f.check === 'report' && f.severity === 'error',
      [],
      (staleAfterSeconds + 30) * 1000,
    );
    // What an operator sees now (docs/doctor.md's example).
    process.stdout.write(`[node tier] multinet doctor, the agent stopped:\n${(await doctor()).stdout}\n`);
    expect(report.finding.message).toMatch(
      /^its NodeNetworkState is stale: last written \d+ s ago \(stale after 20 s\)/,
    );
    await kubectl(
      '-n',
      chart.namespace,
      'patch',
      'daemonset',
      ds,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'remove', path: '/spec/template/spec/nodeSelector/multinet.io~1doctor-test' }]),
    );
    await found(
      'the agent back',
      (f) => f.scope === 'node' && f.check === 'report' && f.severity === 'ok',
      [],
      120_000,
    );
  }, 300_000);
});
