/**
 * `multinet dev node`: a real single-node Kubernetes cluster on this machine (kubelet `localhost`,
 * containerd, runc, kube-controller-manager, kube-scheduler, kube-apiserver and etcd) with multinet
 * running on it, in the foreground. Writes an admin kubeconfig once a pod can be created and get its
 * networks, and stops everything, undoing what it did to the host, on SIGINT/SIGTERM.
 */
import { readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { errorMessage } from '../lib/errors.ts';
import { writeFileAtomic } from '../platform/nodejs/fs.ts';
import { listenTcp } from '../platform/nodejs/listen.ts';
import type { CommandContext } from './io.ts';
import { ExitCode, UsageError } from './io.ts';
import { parseOptions } from './options.ts';

export const devNodeUsage = `  multinet dev node --kubeconfig-out FILE [--cache-dir DIR] [--default-network flannel|bridge]
                    [--multinet chart|host|none] [--wait-for-other SECONDS] [--vfs N]
      Starts a real Kubernetes node on this machine (as root): etcd, kube-apiserver, kube-controller-manager,
      kube-scheduler, containerd with runc, and a kubelet named "localhost", all on 127.0.0.1 and unix
      sockets under one temp dir; the node's default network is a bridge in 198.51.100.0/24; the images
      (pause, a busybox-based "alpine", multinet's own from the Dockerfile) come from a local registry mirror.
      multinet runs on it, installed with helm from charts/multinet. Writes an admin kubeconfig to FILE once a
      pod can be created and get its networks, and runs until Ctrl-C (SIGINT) or SIGTERM; then stops everything and undoes what it
      did to the host (processes, mounts, cgroups, sysctls, netns, links, fixed host dirs).
      Missing binaries are built first with dev/build.sh (Go >= 1.26; about 20 minutes cold on 2 cores).
  --kubeconfig-out FILE   where to write the admin kubeconfig (written atomically, mode 0600)
  --cache-dir DIR         binary and image cache (default: $MULTINET_CACHE, else ~/.cache/multinet)
  --default-network KIND  the node's default network: flannel (default: Flannel's CNI plugin over a
                          subnet.env, as flanneld writes it), or bridge (the bridge plugin alone)
  --multinet HOW          chart (default: helm install of charts/multinet, the image built from the
                          Dockerfile), host (controller, webhook and agent as host processes of this
                          checkout: no image build), or none
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

export async function runDevNode(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    'kubeconfig-out': { type: 'string' },
    'cache-dir': { type: 'string' },
    multinet: { type: 'string' },
    'default-network': { type: 'string' },
    'wait-for-other': { type: 'string' },
    vfs: { type: 'string' },
  });
  const vfs = Number(values.vfs ?? 4);
  if (!Number.isInteger(vfs) || vfs < 0 || vfs > 64) {
    throw new UsageError(`--vfs must be a whole number from 0 to 64 (got ${JSON.stringify(values.vfs)})`);
  }
  const waitSeconds = Number(values['wait-for-other'] ?? 0);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) {
    throw new UsageError(
      `--wait-for-other must be a number of seconds (got ${JSON.stringify(values['wait-for-other'])})`,
    );
  }
  const how = values.multinet ?? 'chart';
  if (how !== 'chart' && how !== 'host' && how !== 'none') {
    throw new UsageError(`--multinet must be chart, host or none (got ${JSON.stringify(how)})`);
  }
  const defaultNetwork = values['default-network'] ?? 'flannel';
  if (defaultNetwork !== 'bridge' && defaultNetwork !== 'flannel') {
    throw new UsageError(
      `--default-network must be bridge or flannel (got ${JSON.stringify(defaultNetwork)})`,
    );
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const out = values['kubeconfig-out'];
  if (!out) throw new UsageError('--kubeconfig-out FILE is required');
  const { io, env, signal } = context;
  if (!context.process) throw new Error('dev node needs the process port of the entry point');
  const proc = context.process;
  const kubeconfigPath = resolve(out);
  const log = (line: string): void => io.stderr(`[dev node] ${line}\n`);
  const [{ startKubeNode }, { startMultinetOnNode }, { installChartOnNode }, { defaultCacheDir }] =
    await Promise.all([
      import('../dev/node/kube-node.ts'),
      import('../dev/node/multinet-on-node.ts'),
      import('../dev/node/multinet-chart.ts'),
      import('../dev/binaries.ts'),
    ]);
  let node;
  try {
    node = await startKubeNode({
      cacheDir: values['cache-dir'] ?? defaultCacheDir(env, homedir()),
      env,
      uid: proc.uid,
      pid: proc.pid,
      kill: (pid, signal) => proc.kill(pid, signal),
      listen: (server) => listenTcp(server, '127.0.0.1', 0),
      defaultNetwork,
      vfs,
      waitForOtherNodeMs: waitSeconds * 1000,
      extraImages: how === 'chart' ? ['multinet'] : [],
      log,
      signal,
    });
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
  let multinet: Awaited<ReturnType<typeof startMultinetOnNode>> | undefined;
  try {
    if (how === 'host') multinet = await startMultinetOnNode(node, { signal, log });
    if (how === 'chart') await installChartOnNode(node, { signal, log });
    admin = await readFile(node.adminKubeconfigPath, 'utf8');
    await writeFileAtomic(kubeconfigPath, admin, 0o600);
    io.stdout(
      [
        `node ${node.nodeName} Ready; API server ${node.controlPlane.serverUrl}`,
        `admin kubeconfig: ${kubeconfigPath}`,
        '',
        `  export KUBECONFIG=${kubeconfigPath}`,
        `  ${node.kubectlPath} get nodes -o wide`,
        `  ${node.kubectlPath} get pods -A`,
        '',
        `macvlan master for NADs: ${node.macvlanMaster}; logs: ${node.layout.logs}${multinet ? `, ${multinet.logDir}` : ''}`,
        ...(node.vfs.links.length > 0
          ? [`stand-in VFs (${node.vfs.resourceName}, CNI plugin "vf"): ${node.vfs.links.join(', ')}`]
          : []),
        'press Ctrl-C to stop (stops everything and undoes what it did to the host)',
        '',
      ].join('\n'),
    );
    const outcome = await Promise.race([aborted(signal).then(() => undefined), node.unexpectedExit]);
    if (outcome !== undefined) {
      io.stderr(`multinet dev node: ${outcome}\n`);
      exitCode = ExitCode.failed;
    }
  } catch (err) {
    io.stderr(`multinet dev node: ${errorMessage(err)}\n`);
    exitCode = ExitCode.failed;
  } finally {
    log('stopping');
    await multinet?.stop();
    try {
      await node.stop();
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
