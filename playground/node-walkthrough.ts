/**
 * The playground on a real Kubernetes node (dev/node, a bridge as its default network): multinet installed
 * with helm from charts/multinet (the image built from the Dockerfile), then the seed walkthrough as a user
 * types it, with kubectl against a kubelet whose container runtime calls multinet's shim. Applies the seed's
 * macvlan-conf NAD (master and range swapped for the node's veth and 192.0.2.0/24), shows a broken NAD
 * rejected, creates the seed's samplepod unchanged, and shows its interfaces and network-status.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { eventually } from '../dev/eventually.ts';
import type { Kill } from '../lib/ports.ts';
import type { ListenLoopback } from '../dev/node/registry.ts';
import type { KubeNode } from '../dev/node/kube-node.ts';
import { seedDir, seedMacvlanConfig, type SeedNad } from './seed.ts';
import { runWalkthrough, shownKubectl, type Step, type WalkthroughUp } from './steps.ts';

/** What every walkthrough takes from the entry point. */
export interface NodePlaygroundOptions {
  /** Cache root of the builds (binaries in <cacheDir>/bin, images in <cacheDir>/images). */
  readonly cacheDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
  /** Run the walkthrough, clean up and return (for scripts); else keep running until the signal. */
  readonly once: boolean;
  /** Write the admin kubeconfig here once everything is ready. */
  readonly kubeconfigOut?: string | undefined;
  readonly writeKubeconfig: (path: string, text: string) => Promise<void>;
  readonly uid: number | undefined;
  readonly pid: number;
  readonly kill: Kill;
  readonly listen: ListenLoopback;
  /** Wait this long for another local node of this machine to stop (0: give up at once). */
  readonly waitForOtherNodeMs?: number;
}

/** The seed's NAD on this node: its master is the node's veth, its range 192.0.2.200-216. */
export async function seedNadForNode(node: KubeNode): Promise<SeedNad> {
  const nad = yaml.load(await readFile(join(seedDir, 'macvlan-conf.nad.yaml'), 'utf8')) as SeedNad;
  return { ...nad, spec: { config: JSON.stringify(seedMacvlanConfig(nad, node.macvlanMaster)) } };
}

/** Runs the walkthrough on a real node; returns true when every step succeeded. */
export async function runNodePlayground(options: NodePlaygroundOptions): Promise<boolean> {
  const { say, signal } = options;
  const [{ startKubeNode }, { installChartOnNode }] = await Promise.all([
    import('../dev/node/kube-node.ts'),
    import('../dev/node/multinet-chart.ts'),
  ]);
  let node: KubeNode | undefined;
  const kubectl = shownKubectl(say, (args) => node!.kubectl(args));
  const steps = async (step: Step, work: string): Promise<WalkthroughUp> => {
    const started = await step(
      'start a real Kubernetes node on this machine (kubelet, containerd, runc)',
      () =>
        startKubeNode({
          cacheDir: options.cacheDir,
          env: options.env,
          uid: options.uid,
          pid: options.pid,
          kill: options.kill,
          listen: options.listen,
          defaultNetwork: 'bridge',
          extraImages: ['multinet'],
          waitForOtherNodeMs: options.waitForOtherNodeMs ?? 0,
          log: (line) => say(`    ${line}`),
          signal,
        }),
    );
    node = started;
    await step('helm install multinet charts/multinet (the image built from the Dockerfile)', () =>
      installChartOnNode(started, { signal, log: (line) => say(`    ${line}`) }),
    );
    await kubectl(['-n', 'multinet', 'get', 'pods', '-o', 'wide']);
    if (options.kubeconfigOut) {
      await options.writeKubeconfig(
        options.kubeconfigOut,
        await readFile(started.adminKubeconfigPath, 'utf8'),
      );
      say(`  admin kubeconfig written to ${options.kubeconfigOut}`);
    }
    await kubectl(['get', 'nodes', '-o', 'wide']);
    const nad = await seedNadForNode(started);
    const nadFile = join(work, 'macvlan-conf.yaml');
    await writeFile(nadFile, yaml.dump(nad));
    await step(
      "apply the seed's macvlan-conf NAD (master: the node's veth, range 192.0.2.200-216)",
      async () => {
        await kubectl(['apply', '-f', nadFile]);
        await eventually(
          'macvlan-conf to be Ready',
          async () =>
            /True/.test(
              (
                await started.kubectl([
                  'get',
                  'net-attach-def',
                  'macvlan-conf',
                  '-o',
                  'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
                ])
              ).stdout,
            ),
          { signal, timeoutMs: 60_000 },
        );
        await kubectl(['get', 'net-attach-def', '-o', 'wide']);
      },
    );
    await step('apply a NAD with a typo in its range and see the webhook reject it', async () => {
      const broken = {
        ...nad,
        metadata: { name: 'macvlan-broken' },
        spec: { config: nad.spec.config.replace('"rangeEnd":"192.0.2.216"', '"rangeEnd":"192.0.3.216"') },
      };
      const brokenFile = join(work, 'macvlan-broken.yaml');
      await writeFile(brokenFile, yaml.dump(broken));
      await kubectl(['apply', '-f', brokenFile], true);
    });
    await step("create the seed's samplepod, unchanged", async () => {
      await kubectl(['create', '-f', join(seedDir, 'samplepod.yaml')]);
      await kubectl(['wait', '--for=condition=Ready', 'pod/samplepod', '--timeout=90s']);
    });
    await step('look inside: eth0 from the default network, net1 from macvlan-conf', async () => {
      const ipa = await kubectl(['exec', 'samplepod', '--', 'ip', '-4', 'a']);
      if (!/net1/.test(ipa)) throw new Error('samplepod has no net1');
    });
    await step('the network-status multinet wrote on the pod', async () => {
      const described = (await started.kubectl(['describe', 'pod', 'samplepod'])).stdout;
      const annotations = /^Annotations:[\s\S]*?(?=^Status:)/m.exec(described)?.[0] ?? described;
      say('$ kubectl describe pod samplepod');
      for (const line of annotations.trimEnd().split('\n')) say(`  ${line}`);
      if (!annotations.includes('default/macvlan-conf'))
        throw new Error('network-status does not list macvlan-conf');
    });
    return {
      kubeconfig: options.kubeconfigOut ?? started.adminKubeconfigPath,
      tryCommands: [`${started.kubectlPath} exec samplepod -- ip a`],
      unexpectedExit: started.unexpectedExit,
      onceStep: {
        title: 'delete samplepod (DEL frees its addresses)',
        work: () => kubectl(['delete', 'pod', 'samplepod', '--wait=true']),
      },
    };
  };
  return runWalkthrough(options, steps, {
    what: 'the node, its processes, mounts, cgroups, network namespaces, links',
    stop: async () => node?.stop(),
  });
}
