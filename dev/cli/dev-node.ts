/**
 * `multinet dev node`: a real Kubernetes cluster on this machine with multinet running on it, in the
 * foreground: one node (kubelet `localhost`, containerd, runc, kube-controller-manager, kube-scheduler,
 * kube-apiserver and etcd on the host's loopback), or with `--nodes N` several, each in network and mount
 * namespaces of its own, joined by an underlay. Writes an admin kubeconfig once a pod can be created and
 * get its networks, and stops everything, undoing what it did to the host, on SIGINT/SIGTERM.
 */
import { readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { errorMessage } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../platform/nodejs/fs.ts';
import { listenTcp } from '../../platform/nodejs/listen.ts';
import type { CommandContext } from '../../cli/io.ts';
import { ExitCode, UsageError } from '../../cli/io.ts';
import { parseOptions } from '../../cli/options.ts';
import type { Server } from 'node:net';
import { checkNodeCount, freeForNads, maxNodes } from '../cluster/plan.ts';
import type { KubeNodeOptions } from '../node/kube-node.ts';

export const devNodeUsage = `  multinet dev node --kubeconfig-out FILE [--nodes N] [--cache-dir DIR] [--default-network bridge|flannel]
                    [--multinet chart|host|none] [--wait-for-other SECONDS] [--vfs N]
      Starts a real Kubernetes cluster on this machine (as root): etcd, kube-apiserver, kube-controller-manager,
      kube-scheduler, and per node containerd with runc and a kubelet; the images (pause, a busybox-based
      "alpine", multinet's own from the Dockerfile) come from a local registry mirror. multinet runs on it,
      installed with helm from charts/multinet. Writes an admin kubeconfig to FILE once a pod can be created
      and get its networks, and runs until Ctrl-C (SIGINT) or SIGTERM; then stops everything and undoes what it
      did to the host (processes, mounts, cgroups, sysctls, netns, links, fixed host dirs).
      One node (the default): a kubelet named "localhost" on 127.0.0.1 and unix sockets under one temp dir,
      its default network a bridge in 198.51.100.0/25.
      --nodes N (2 to ${maxNodes}): nodes node-1..node-N, each in network and mount namespaces of its own
      (private /etc/cni/net.d, /opt/cni/bin, /var/lib/kubelet, /run/netns, /var/lib/multinet, ...), joined
      by an underlay 192.0.2.0/24 where each node's uplink is eth0 (192.0.2.11, .12, ...) and the API server
      listens at 192.0.2.1:6443; pods get eth0 from their node's /26 of 198.51.100.0/24, routed between
      nodes; 203.0.113.0/24 is left free for your NADs (a macvlan on "eth0" works unchanged).
      Missing binaries are built first with dev/build.sh (Go >= 1.26; about 20 minutes cold on 2 cores).
  --kubeconfig-out FILE   where to write the admin kubeconfig (written atomically, mode 0600)
  --nodes N               how many nodes (default 1)
  --cache-dir DIR         binary and image cache (default: $MULTINET_CACHE, else ~/.cache/multinet)
  --default-network KIND  one node's default network: bridge (default: the bridge plugin alone), or
                          flannel (Flannel's CNI plugin over a subnet.env, as flanneld writes it; needs its
                          source beside the repository, see dev/build.sh). Several nodes: bridge only
  --multinet HOW          chart (default: helm install of charts/multinet, the image built from the
                          Dockerfile), host (one node only: controller, webhook and agent as host processes
                          of this checkout, no image build), or none
  --wait-for-other SECONDS  wait this long for another local node of this machine to stop (only one runs at
                          a time) instead of refusing to start
  --vfs N                 stand-in SR-IOV VFs: N links on the node (macvlan children of its uplink) that a
                          test device plugin advertises as resource multinet.dev/vf and the CNI plugin "vf"
                          moves into pods, for NADs annotated k8s.v1.cni.cncf.io/resourceName: multinet.dev/vf
                          (default 4; 0: none)`;

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) done();
    else signal.addEventListener('abort', () => done(), { once: true });
  });
}

/** A started local cluster, whatever its shape: what the command prints, waits on and stops. */
interface Running {
  readonly adminKubeconfigPath: string;
  /** Lines printed once it runs (after the kubeconfig's). */
  readonly summary: readonly string[];
  readonly kubectlPath: string;
  readonly unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

interface Settings {
  readonly nodes: number;
  readonly how: 'chart' | 'host' | 'none';
  readonly defaultNetwork: 'bridge' | 'flannel';
  readonly waitSeconds: number;
  readonly cacheDir: string | undefined;
  /** Stand-in VFs on the single node. */
  readonly vfs: number;
}

function parseSettings(args: readonly string[]): Settings & { readonly out: string } {
  const { values, positionals } = parseOptions(args, {
    'kubeconfig-out': { type: 'string' },
    'cache-dir': { type: 'string' },
    multinet: { type: 'string' },
    'default-network': { type: 'string' },
    'wait-for-other': { type: 'string' },
    nodes: { type: 'string' },
    vfs: { type: 'string' },
  });
  const waitSeconds = Number(values['wait-for-other'] ?? 0);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) {
    throw new UsageError(
      `--wait-for-other must be a number of seconds (got ${JSON.stringify(values['wait-for-other'])})`,
    );
  }
  const nodes = Number(values.nodes ?? 1);
  try {
    checkNodeCount(nodes);
  } catch (err) {
    throw new UsageError(
      errorMessage(err).replace(`(got ${String(nodes)})`, `(got ${JSON.stringify(values.nodes)})`),
    );
  }
  const how = values.multinet ?? 'chart';
  if (how !== 'chart' && how !== 'host' && how !== 'none') {
    throw new UsageError(`--multinet must be chart, host or none (got ${JSON.stringify(how)})`);
  }
  if (how === 'host' && nodes > 1) {
    throw new UsageError(
      '--multinet host runs one agent as a process of this machine, for one node only: use --multinet chart (or none) with --nodes',
    );
  }
  const defaultNetwork = values['default-network'] ?? 'bridge';
  if (defaultNetwork !== 'bridge' && defaultNetwork !== 'flannel') {
    throw new UsageError(
      `--default-network must be bridge or flannel (got ${JSON.stringify(defaultNetwork)})`,
    );
  }
  if (defaultNetwork === 'flannel' && nodes > 1) {
    throw new UsageError(
      "--default-network flannel is for one node: several nodes get a bridge each, routed between them as flanneld's host-gw would",
    );
  }
  const vfs = Number(values.vfs ?? 4);
  if (!Number.isInteger(vfs) || vfs < 0 || vfs > 64) {
    throw new UsageError(`--vfs must be a whole number from 0 to 64 (got ${JSON.stringify(values.vfs)})`);
  }
  if (values.vfs !== undefined && nodes > 1) {
    throw new UsageError('--vfs is for one node: the nodes of a cluster have no stand-in VFs yet');
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const out = values['kubeconfig-out'];
  if (!out) throw new UsageError('--kubeconfig-out FILE is required');
  return { nodes, how, defaultNetwork, waitSeconds, cacheDir: values['cache-dir'], vfs, out };
}

export async function runDevNode(args: readonly string[], context: CommandContext): Promise<number> {
  const settings = parseSettings(args);
  const { io, env, signal } = context;
  if (!context.process) throw new Error('dev node needs the process port of the entry point');
  const proc = context.process;
  const kubeconfigPath = resolve(settings.out);
  const log = (line: string): void => io.stderr(`[dev node] ${line}\n`);
  const { defaultCacheDir } = await import('../binaries.ts');
  const common = {
    cacheDir: settings.cacheDir ?? defaultCacheDir(env, homedir()),
    env,
    uid: proc.uid,
    pid: proc.pid,
    kill: (pid: number, sig: NodeJS.Signals | 0) => proc.kill(pid, sig),
    listen: (server: Server) => listenTcp(server, '127.0.0.1', 0),
    waitForOtherNodeMs: settings.waitSeconds * 1000,
    extraImages: settings.how === 'chart' ? (['multinet'] as const) : [],
    log,
    signal,
  };
  let running: Running;
  try {
    running = settings.nodes > 1 ? await startCluster(settings, common) : await startNode(settings, common);
  } catch (err) {
    if (signal.aborted) {
      log('interrupted before the node was ready; nothing is left running');
      return ExitCode.ok;
    }
    io.stderr(`multinet dev node: ${errorMessage(err)}\n`);
    return ExitCode.failed;
  }
  let exitCode: number = ExitCode.ok;
  let admin: string | undefined;
  try {
    admin = await readFile(running.adminKubeconfigPath, 'utf8');
    await writeFileAtomic(kubeconfigPath, admin, 0o600);
    io.stdout(
      [
        running.summary[0],
        `admin kubeconfig: ${kubeconfigPath}`,
        '',
        `  export KUBECONFIG=${kubeconfigPath}`,
        `  ${running.kubectlPath} get nodes -o wide`,
        `  ${running.kubectlPath} get pods -A`,
        '',
        ...running.summary.slice(1),
        'press Ctrl-C to stop (stops everything and undoes what it did to the host)',
        '',
      ].join('\n'),
    );
    const outcome = await Promise.race([aborted(signal).then(() => undefined), running.unexpectedExit]);
    if (outcome !== undefined) {
      io.stderr(`multinet dev node: ${outcome}\n`);
      exitCode = ExitCode.failed;
    }
  } catch (err) {
    io.stderr(`multinet dev node: ${errorMessage(err)}\n`);
    exitCode = ExitCode.failed;
  } finally {
    log('stopping');
    try {
      await running.stop();
    } catch (err) {
      io.stderr(`multinet dev node: ${errorMessage(err)}\n`);
      exitCode = ExitCode.failed;
    }
    const current = await readFile(kubeconfigPath, 'utf8').catch(() => undefined);
    if (admin !== undefined && current === admin) await rm(kubeconfigPath, { force: true });
    log('stopped');
  }
  return exitCode;
}

type Common = Omit<KubeNodeOptions, 'defaultNetwork' | 'startTimeoutMs' | 'tmpRoot'>;

/** One node on the host's loopback, multinet on it as the chart, as host processes, or not at all. */
async function startNode(settings: Settings, common: Common): Promise<Running> {
  const [{ startKubeNode }, { startMultinetOnNode }, { installChartOnNode }] = await Promise.all([
    import('../node/kube-node.ts'),
    import('../node/multinet-on-node.ts'),
    import('../node/multinet-chart.ts'),
  ]);
  const { signal, log } = common;
  const node = await startKubeNode({ ...common, defaultNetwork: settings.defaultNetwork, vfs: settings.vfs });
  let multinet: Awaited<ReturnType<typeof startMultinetOnNode>> | undefined;
  const stop = async (): Promise<void> => {
    await multinet?.stop();
    await node.stop();
  };
  try {
    if (settings.how === 'host')
      multinet = await startMultinetOnNode(node, { ...(signal ? { signal } : {}), ...(log ? { log } : {}) });
    if (settings.how === 'chart')
      await installChartOnNode(node, { ...(signal ? { signal } : {}), ...(log ? { log } : {}) });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return {
    adminKubeconfigPath: node.adminKubeconfigPath,
    kubectlPath: node.kubectlPath,
    summary: [
      `node ${node.nodeName} Ready; API server ${node.controlPlane.serverUrl}`,
      `macvlan master for NADs: ${node.macvlanMaster}; logs: ${node.layout.logs}${multinet ? `, ${multinet.logDir}` : ''}`,
      ...(node.vfs.links.length > 0
        ? [`stand-in VFs (${node.vfs.resourceName}, CNI plugin "vf"): ${node.vfs.links.join(', ')}`]
        : []),
    ],
    unexpectedExit: node.unexpectedExit,
    stop,
  };
}

/** Several nodes in namespaces of their own, multinet on them as the chart (or not at all). */
async function startCluster(settings: Settings, common: Common): Promise<Running> {
  const [{ startKubeCluster }, { installChart }, { clusterChartTarget }] = await Promise.all([
    import('../cluster/kube-cluster.ts'),
    import('../node/multinet-chart.ts'),
    import('../cluster/cluster-chart.ts'),
  ]);
  const { signal, log } = common;
  const cluster = await startKubeCluster({ ...common, nodes: settings.nodes });
  try {
    if (settings.how === 'chart')
      await installChart(clusterChartTarget(cluster), {
        ...(signal ? { signal } : {}),
        ...(log ? { log } : {}),
      });
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  return {
    adminKubeconfigPath: cluster.adminKubeconfigPath,
    kubectlPath: cluster.kubectlPath,
    summary: [
      `${cluster.nodes.length} nodes Ready (${cluster.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}); API server ${cluster.controlPlane.serverUrl} (${cluster.apiGateway.host}:${cluster.apiGateway.port} on the underlay)`,
      `macvlan master for NADs: eth0 (every node's uplink); ${freeForNads} is free for NADs; run dir: ${cluster.dir}`,
    ],
    unexpectedExit: cluster.unexpectedExit,
    stop: () => cluster.stop(),
  };
}
