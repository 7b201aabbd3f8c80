/**
 * The anchors tier: replacing Multus with multinet on a live cluster, on the real node. Multus thick, built
 * from ../shared/anchors into an image as multinet's is (dev/images/build.sh), runs as its own DaemonSet
 * manifest deploys it (test/anchors/multus/multus-daemonset-thick.yaml); pods are created under it. Then
 * the guide's commands (multus-migration-guide.ts, docs/replacing-multus.md), in
 * order, while a pod is created every few seconds: multinet installed with helm beside Multus, checked with
 * `kubectl multinet doctor`, Multus removed. Every pod created along the way gets its networks; the pods
 * Multus attached keep theirs, and their deletion through multinet releases everything Multus attached:
 * no lease, no link, no record of Multus' or multinet's is left. Fails, naming what is missing, where the
 * anchors are not.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ensureMultus, multusCommit } from '../../bench/anchors/multus.ts';
import type { KubeNode } from '../../dev/node/kube-node.ts';
import { clusterChartValues, mergeValues, nodeChartTarget } from '../../dev/node/multinet-chart.ts';
import { isSharedMount } from '../../dev/node/mountinfo.ts';
import { repoRoot } from '../../dev/repo-root.ts';
import { networkStatusAnnotation } from '../../lib/annotations/keys.ts';
import { eventually } from '../../dev/eventually.ts';
import { readFixture } from '../fixtures.ts';
import {
  cacheDir,
  ipv4,
  leases,
  requireNodeHost,
  runProcess,
  startTestNode,
  type ProcessRun,
} from '../node/support.ts';
import { forNode, migrationGuide, type GuideStep, type NodePlaces } from './multus-migration-guide.ts';

let node: KubeNode;
let places: NodePlaces;
const work = mkdtempSync(join(tmpdir(), 'multinet-anchors-migration-'));
/** Multus' cniDir (its per-pod records) and the macvlan NAD's leases, in the node's run dir. */
let multusCache: string;
let macvlanLeases: string;
const oldPods = ['old-0', 'old-1', 'old-2', 'old-3'];
/** The node bridge's ports before any pod: what is left once every pod is gone. */
let bridgePortsBefore: number;

async function kubectl(...args: string[]): Promise<string> {
  const out = await node.kubectl(args);
  if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim() || out.stdout.trim()}`);
  return out.stdout;
}

/** The step that deletes the pods Multus attached; the steps before it install multinet and remove Multus. */
const deletionStep = migrationGuide.findIndex((s) => s.command.includes('POD...'));
const isDoctor = (s: GuideStep): boolean => s.command.join(' ') === 'kubectl multinet doctor';

/** One step of the guide, as a user runs it (kubectl with the multinet plugin on PATH, helm, a shell). */
async function step(index: number): Promise<ProcessRun> {
  const guide: GuideStep = migrationGuide[index]!;
  const [file, ...args] = forNode(guide, places);
  const env = {
    PATH: `${join(repoRoot, 'bin')}:${process.env.PATH ?? ''}`,
    HOME: join(work, 'home'),
    KUBECONFIG: node.adminKubeconfigPath,
  };
  const program = file === 'kubectl' ? node.kubectlPath : file === 'helm' ? node.helmPath : file!;
  const out = await runProcess(program, args, env);
  if (out.code !== 0)
    throw new Error(
      `guide step ${index} (${[file, ...args].join(' ')}) exit ${out.code}:\n${out.stdout}${out.stderr}`,
    );
  return out;
}

function writeManifest(name: string, objects: readonly unknown[]): string {
  const file = join(work, name);
  writeFileSync(file, objects.map((o) => yaml.dump(o)).join('---\n'));
  return file;
}

type Manifest = Record<string, unknown> & { kind: string; metadata: { name: string } };

/** Multus' manifest with what this node has elsewhere: the image, the CNI dirs, Multus' dirs, the API server. */
function multusForNode(image: string): Manifest[] {
  const multusDir = join(node.layout.dir, 'multus');
  const hostPaths: Record<string, string> = {
    cni: node.layout.cniConfDir,
    cnibin: node.layout.cniBinDir,
    'host-run': join(multusDir, 'run'),
    'host-var-lib-cni-multus': multusCache,
    'host-var-lib-kubelet': node.layout.kubeletRoot,
    'host-run-k8s-cni-cncf-io': join(multusDir, 'k8s.cni.cncf.io'),
    'multus-conf-dir': join(multusDir, 'net.d'),
  };
  for (const dir of Object.values(hostPaths)) mkdirSync(dir, { recursive: true });
  const objects = yaml.loadAll(
    readFileSync(join(repoRoot, 'test/anchors/multus/multus-daemonset-thick.yaml'), 'utf8'),
  ) as Manifest[];
  for (const o of objects) {
    if (o.kind === 'ConfigMap') {
      const data = o.data as Record<string, string>;
      const config = JSON.parse(data['daemon-config.json']!) as Record<string, unknown>;
      // The delegates run chrooted to the host: the node's bin dir; the shim finds the socket on the host.
      data['daemon-config.json'] = JSON.stringify(
        { ...config, binDir: node.layout.cniBinDir, daemonSocketDir: join(hostPaths['host-run']!, 'multus') },
        null,
        2,
      );
    }
    if (o.kind !== 'DaemonSet') continue;
    const spec = (o.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    const containers = [
      ...(spec.containers as Array<Record<string, unknown>>),
      ...(spec.initContainers as Array<Record<string, unknown>>),
    ];
    for (const c of containers) {
      c.image = image;
      c.imagePullPolicy = 'IfNotPresent';
      for (const m of c.volumeMounts as Array<{
        name: string;
        mountPath: string;
        mountPropagation?: string;
      }>) {
        if (m.name === 'cnibin' && m.mountPath === '/opt/cni/bin') m.mountPath = node.layout.cniBinDir;
      }
    }
    const daemon = (spec.containers as Array<{ env: unknown[] }>)[0]!;
    daemon.env.push(
      { name: 'KUBERNETES_SERVICE_HOST', value: node.apiGateway.host },
      { name: 'KUBERNETES_SERVICE_PORT', value: String(node.apiGateway.port) },
    );
    for (const v of spec.volumes as Array<{ name: string; hostPath?: { path: string } }>) {
      if (v.hostPath && hostPaths[v.name]) v.hostPath.path = hostPaths[v.name]!;
    }
  }
  return objects;
}

function pod(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      labels: { app: 'migration' },
      annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-conf' },
    },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'c', image: 'alpine', command: ['/bin/ash', '-c', 'trap : TERM INT; sleep infinity & wait'] },
      ],
    },
  };
}

async function createPod(name: string): Promise<void> {
  await kubectl('create', '-f', writeManifest(`${name}.yaml`, [pod(name)]));
}

/** The pod is Ready with net1 from the macvlan NAD: in its network-status and in the pod. */
async function expectNetworks(name: string): Promise<string> {
  await kubectl('wait', '--for=condition=Ready', `pod/${name}`, '--timeout=180s').catch(
    async (err: unknown) => {
      const describe = await node.kubectl(['describe', 'pod', name]);
      throw new Error(
        `${String(err)}\n--- kubectl describe pod ${name} ---\n${describe.stdout}\n${await multusDiagnostics()}`,
      );
    },
  );
  const status = JSON.parse(
    await kubectl(
      'get',
      'pod',
      name,
      '-o',
      `jsonpath={.metadata.annotations.${networkStatusAnnotation.replace(/\./g, '\\.')}}`,
    ),
  ) as Array<{ name: string; interface?: string }>;
  expect(status.map((s) => `${s.name}@${s.interface}`)).toContainEqual('default/macvlan-conf@net1');
  const net1 = ipv4(await kubectl('exec', name, '--', 'ip', '-4', 'a'), 'net1');
  expect(net1).toMatch(/^192\.0\.2\.\d+\/24$/);
  return net1!;
}

/** What an operator looks at when Multus' DaemonSet does not become ready: its pods, Events and logs. */
async function multusDiagnostics(): Promise<string> {
  const out: string[] = [];
  for (const args of [
    ['-n', 'kube-system', 'describe', 'pod', '-l', 'name=multus'],
    ['-n', 'kube-system', 'logs', '-l', 'name=multus', '--all-containers', '--tail=60'],
  ]) {
    const r = await node.kubectl(args);
    out.push(`--- kubectl ${args.join(' ')} ---\n${(r.stdout + r.stderr).split('\n').slice(-80).join('\n')}`);
  }
  return out.join('\n');
}

/** Files Multus keeps for pods (its record and libcni's result cache), by container ID. */
function multusRecords(): string[] {
  const records = existsSync(multusCache) ? readdirSync(multusCache).filter((f) => f !== 'results') : [];
  const results = existsSync(join(multusCache, 'results')) ? readdirSync(join(multusCache, 'results')) : [];
  return [...records, ...results];
}

/**
 * Multus' manifest mounts host paths with HostToContainer and Bidirectional propagation (its delegates
 * run chrooted to /hostroot, the host's /, and must see the pods' network namespaces mounted after it
 * started); the runtime refuses those from a mount that is not shared. A node booted by systemd has a
 * shared /; this machine's is private, so the test shares it (only / itself) for its run and puts it back.
 */
function shareRootMount(): () => void {
  if (isSharedMount(readFileSync('/proc/self/mountinfo', 'utf8'), '/')) return () => undefined;
  execFileSync('mount', ['--make-shared', '/']);
  return () => execFileSync('mount', ['--make-private', '/']);
}
let unshareRootMount: (() => void) | undefined;

beforeAll(async () => {
  await requireNodeHost();
  unshareRootMount = shareRootMount();
  // Multus from the anchor's source (fails naming the missing tarball), then its image and multinet's.
  await ensureMultus({ cacheDir, env: process.env });
  node = await startTestNode({
    defaultNetwork: 'bridge',
    extraImages: ['multinet', 'multus'],
    env: { ...process.env, MULTUS_COMMIT: multusCommit },
  });
  multusCache = join(node.layout.dir, 'multus', 'cache');
  macvlanLeases = join(node.layout.dir, 'migration-ipam');
  mkdirSync(join(work, 'home'));
  const valuesFile = join(work, 'values.yaml');
  writeFileSync(
    valuesFile,
    JSON.stringify(
      mergeValues(clusterChartValues(nodeChartTarget(node)), { agent: { multusCacheDir: multusCache } }),
      null,
      2,
    ),
  );
  places = {
    repoRoot,
    valuesFile,
    cniConfDir: node.layout.cniConfDir,
    cniBinDir: node.layout.cniBinDir,
    oldPods,
  };
}, 1_800_000);

afterAll(async () => {
  await node?.stop();
  unshareRootMount?.();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('replacing Multus with multinet on a live cluster (the real node)', () => {
  it('runs Multus thick as its manifest deploys it, and pods get their networks from it', async () => {
    bridgePortsBefore = await bridgePorts();
    const image = node.images.find((i) => i.name === 'multus')!.reference;
    await kubectl('apply', '-f', writeManifest('multus.yaml', multusForNode(image)));
    await kubectl(
      '-n',
      'kube-system',
      'rollout',
      'status',
      'daemonset/kube-multus-ds',
      '--timeout=180s',
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await multusDiagnostics()}`);
    });
    await eventually(
      '00-multus.conf',
      () => existsSync(join(node.layout.cniConfDir, '00-multus.conf')),
      60_000,
    );
    await kubectl(
      'apply',
      '-f',
      writeManifest('macvlan-conf.yaml', [
        {
          apiVersion: 'k8s.cni.cncf.io/v1',
          kind: 'NetworkAttachmentDefinition',
          metadata: { name: 'macvlan-conf', namespace: 'default' },
          spec: {
            config: JSON.stringify({
              cniVersion: '0.3.1',
              name: 'macvlan-conf',
              type: 'macvlan',
              master: node.macvlanMaster,
              mode: 'bridge',
              ipam: {
                type: 'host-local',
                subnet: '192.0.2.0/24',
                rangeStart: '192.0.2.10',
                rangeEnd: '192.0.2.250',
                dataDir: macvlanLeases,
              },
            }),
          },
        },
      ]),
    );
    for (const name of oldPods) await createPod(name);
    for (const name of oldPods) await expectNetworks(name);
    expect(leases(join(macvlanLeases, 'macvlan-conf'))).toHaveLength(oldPods.length);
    // Multus recorded each pod: the shape agent/multus-cache.ts reads (its unit test's fixture has it too).
    const records = readdirSync(multusCache).filter((f) => f !== 'results');
    expect(records).toHaveLength(oldPods.length);
    const delegates = JSON.parse(readFileSync(join(multusCache, records[0]!), 'utf8')) as Array<
      Record<string, unknown>
    >;
    const fixture = JSON.parse(readFixture('multus', 'delegates.json')) as Array<Record<string, unknown>>;
    expect(delegates.map((d) => Object.keys(d).sort())).toEqual(
      fixture.slice(0, 2).map((d) => Object.keys(d).sort()),
    );
  }, 600_000);

  it('follows the guide: multinet installed beside Multus, checked, Multus removed; every pod created meanwhile gets its networks', async () => {
    let creating = true;
    const during: string[] = [];
    const creator = (async () => {
      for (let i = 0; creating; i++) {
        const name = `during-${i}`;
        await createPod(name);
        during.push(name);
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    })();
    try {
      // Every step before the old pods' deletion: multinet installed and checked, Multus removed.
      for (let i = 0; i < deletionStep; i++) {
        const out = await step(i);
        if (isDoctor(migrationGuide[i]!))
          expect(out.stdout).toMatch(/✓ config +\S+00-multinet\.conflist is the config the runtime uses/);
      }
    } finally {
      creating = false;
      await creator;
    }
    expect(existsSync(join(node.layout.cniConfDir, '00-multus.conf'))).toBe(false);
    expect(existsSync(join(node.layout.cniBinDir, 'multus-shim'))).toBe(false);
    expect(during.length).toBeGreaterThanOrEqual(5);
    for (const name of during) await expectNetworks(name);
    for (const name of ['new-0', 'new-1']) {
      await createPod(name);
      await expectNetworks(name);
    }
    // The pods Multus attached keep their interfaces.
    for (const name of oldPods)
      expect(ipv4(await kubectl('exec', name, '--', 'ip', '-4', 'a'), 'net1')).toMatch(/^192\.0\.2\./);
  }, 900_000);

  it('deletes the pods Multus attached through multinet: everything Multus attached is released', async () => {
    const multusOwned = readdirSync(multusCache).filter((f) => f !== 'results');
    expect(multusOwned.length).toBeGreaterThanOrEqual(oldPods.length);
    await step(deletionStep); // kubectl delete pod old-0 ...
    await kubectl('delete', 'pod', '-l', 'app=migration', '--wait=true');
    const stateDir = nodeChartTarget(node).stateDir;
    const podnet = join(node.layout.ipamDir, 'podnet');
    // What the pods still running hold (multinet's controller and webhook, on the default network) stays:
    // their addresses, and the sandbox IDs host-local wrote in those leases.
    const live = async (): Promise<{ ips: string[]; ids: string[] }> => {
      const pods = JSON.parse(await kubectl('get', 'pods', '-A', '-o', 'json')) as {
        items: Array<{ spec: { hostNetwork?: boolean }; status: { podIP?: string } }>;
      };
      const ips = pods.items
        .filter((p) => !p.spec.hostNetwork && p.status.podIP)
        .map((p) => p.status.podIP!)
        .sort();
      const ids = ips.map((ip) => readFileSync(join(podnet, ip), 'utf8').split(/\r?\n/)[0]!);
      return { ips, ids };
    };
    const running = await live();
    const notLive = (names: string[]): string[] =>
      names.filter((f) => !running.ids.some((id) => f.includes(id)));
    const left = async (): Promise<Record<string, unknown>> => ({
      macvlanLeases: leases(join(macvlanLeases, 'macvlan-conf')),
      podnetLeases: leases(podnet).sort(),
      multusRecords: notLive(multusRecords()),
      multinetRecords: notLive(
        existsSync(join(stateDir, 'attachments')) ? readdirSync(join(stateDir, 'attachments')) : [],
      ),
      bridgePorts: await bridgePorts(),
      runtimeResults: existsSync('/var/lib/cni/results')
        ? notLive(readdirSync('/var/lib/cni/results').filter((f) => multusOwned.some((id) => f.includes(id))))
        : [],
    });
    const released = {
      macvlanLeases: [],
      podnetLeases: running.ips,
      multusRecords: [],
      multinetRecords: [],
      bridgePorts: bridgePortsBefore + running.ips.length,
      runtimeResults: [],
    };
    // A pod's object may go before the kubelet has torn its sandbox down: wait for the DELs.
    const done = await eventually(
      'the deleted pods’ sandboxes torn down',
      async () => JSON.stringify(await left()) === JSON.stringify(released),
      { timeoutMs: 120_000, intervalMs: 1000 },
    ).catch(() => false);
    if (!done) {
      const logs = await node.kubectl(['-n', 'multinet', 'logs', 'ds/multinet-agent', '--tail=60']);
      process.stdout.write(`[anchors] the agent's last log lines:\n${logs.stdout}${logs.stderr}\n`);
    }
    expect(await left()).toEqual(released);
    expect(running.ips.length).toBeGreaterThanOrEqual(2); // multinet's own pods, at least
    for (let i = deletionStep + 1; i < migrationGuide.length; i++) {
      const out = await step(i);
      if (isDoctor(migrationGuide[i]!))
        expect(out.stdout.trimEnd().split('\n').at(-1)).toMatch(/^✓ no problems found/);
    }
  }, 600_000);
});

/** The links enslaved to the node's bridge (the host ends of the pods' veths). */
async function bridgePorts(): Promise<number> {
  const out = await runProcess('ip', ['-j', 'link', 'show', 'master', node.bridge], {
    PATH: process.env.PATH,
  });
  if (out.code !== 0) throw new Error(`ip link show master ${node.bridge}: ${out.stderr}`);
  return (JSON.parse(out.stdout.trim() || '[]') as unknown[]).length;
}
