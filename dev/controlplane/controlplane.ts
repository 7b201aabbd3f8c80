/**
 * A real Kubernetes control plane for tests and the playground: etcd and kube-apiserver on free
 * 127.0.0.1 ports, in a fresh temp dir with their own PKI, as envtest runs them.
 *
 *   const cp = await startControlPlane({ cacheDir, env, log });
 *   try { const kc = cp.kubeConfig(); ... } finally { await cp.stop(); }
 *
 * Nothing here reads process.env: the entry point (jest globalSetup, the CLI) passes it in.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateAuthority } from '../../platform/pki.ts';
import type { Kill } from '../../lib/ports.ts';
import {
  createNamespace,
  createServiceAccountToken,
  type ServiceAccountAccess,
  type ServiceAccountCredentials,
} from './access.ts';
import { ensureBinaries, type ControlPlaneBinaries, type Env } from '../binaries.ts';
import { kubeConfigFromYaml, renderKubeconfig } from './kubeconfig.ts';
import { freePort, httpGetStatus, httpsGet, waitUntil, type TlsClient } from './readiness.ts';
import {
  apiServerArgs,
  etcdArgs,
  layout,
  writePki,
  type ControlPlaneProfile,
  type Layout,
  type Pki,
  type Ports,
} from './server-config.ts';
import { logTail, startServerProcess, type ServerProcess } from './server-process.ts';

export interface ControlPlaneOptions {
  /** Cache root of build.sh (binaries in `<cacheDir>/bin`); see defaultCacheDir(). */
  readonly cacheDir: string;
  /** Use the binaries in this folder instead of the cache, and never build. */
  readonly binDir?: string;
  /** Build missing binaries with build.sh (default true). */
  readonly build?: boolean;
  /** Environment for build.sh (PATH to find go, HOME, Go caches). The servers get an empty one. */
  readonly env?: Env;
  /**
   * The servers' environment (default empty): a mark such as the dev node's, so that what outlives a
   * killed owner can be found in /proc and ended (platform/nodejs/orphans.ts).
   */
  readonly serverEnv?: Readonly<Record<string, string>>;
  /** Progress lines (build output, start and stop); default: dropped. */
  readonly log?: (line: string) => void;
  /** Parent of the temp dir (default os.tmpdir()). */
  readonly tmpRoot?: string;
  /** How long etcd plus kube-apiserver may take to become ready (default 90 s). */
  readonly startTimeoutMs?: number;
  /** How long a server may take to exit after SIGTERM before it gets SIGKILL (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** What the API server is set up for (default `envtest`: no kubelet, pods need no ServiceAccount). */
  readonly profile?: ControlPlaneProfile;
  /** More addresses clients reach the API server at (its serving certificate names them). */
  readonly servingIps?: readonly string[];
  /** Extra kube-apiserver flags (for example feature gates), appended to the defaults. */
  readonly apiServerArgs?: readonly string[];
  /**
   * Runs etcd and kube-apiserver inside this network namespace (the multi-node cluster's underlay):
   * etcd on its 127.0.0.1, the API server on every address there at port 6443, advertising `address`.
   * This process and the host's tools reach the API server through `relay` (dev/node/api-gateway)
   * listening on the host's 127.0.0.1, which is what serverUrl and the admin kubeconfig name.
   */
  readonly netns?: UnderlayPlacement;
  /** Aborts starting (a running build, the waits for readiness); a started control plane ends with stop(). */
  readonly signal?: AbortSignal;
  /** The entry point's process.kill (servers and builds are stopped by process group). */
  readonly kill: Kill;
}

export interface UnderlayPlacement {
  /** The namespace's file (/run/netns/NAME). */
  readonly path: string;
  /** The API server's address there, which kubelets and pods use. */
  readonly address: string;
  readonly nsenter: string;
  /** The TCP relay binary (dev/node/api-gateway). */
  readonly relay: string;
  /** Service ClusterIPs (never routed: there is no kube-proxy). */
  readonly serviceClusterIpRange: string;
}

/** The API server's port inside an underlay namespace (nothing else listens there). */
export const underlayApiServerPort = 6443;

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly serverUrl: string;
  readonly caPem: string;
  /** The CA the API server trusts for client certificates; issue more users with platform/pki.ts. */
  readonly ca: CertificateAuthority;
  /** The admin kubeconfig (user in system:masters) as YAML, and its file in the temp dir. */
  readonly adminKubeconfig: string;
  readonly adminKubeconfigPath: string;
  /** Where kubelets and pods reach the API server (in an underlay: its address there; else serverUrl's). */
  readonly nodeUrl: string;
  /** The temp dir with the PKI, etcd's data and the servers' logs (removed by stop()). */
  readonly dir: string;
  /** Its files: the PKI (CA, service-account key pair), logs, the admin kubeconfig. */
  readonly files: Layout;
  readonly etcdUrl: string;
  readonly binaries: ControlPlaneBinaries;
  readonly apiServerLog: string;
  readonly etcdLog: string;
  /** A fresh admin KubeConfig. */
  kubeConfig(): KubeConfig;
  /** Creates a namespace `<prefix>-<random>` for one test and returns its name. */
  createNamespace(prefix: string): Promise<string>;
  /** A ServiceAccount with the given RBAC and a TokenRequest token (plus a kubeconfig) for it. */
  serviceAccountToken(
    namespace: string,
    name: string,
    access?: ServiceAccountAccess,
  ): Promise<ServiceAccountCredentials>;
  /** Stops kube-apiserver and starts it again on the same port and etcd; resolves once /readyz is ok. */
  restartApiServer(): Promise<void>;
  /** Stops both servers and removes the temp dir. Safe to call more than once. */
  stop(): Promise<void>;
  /** Resolves with a description when etcd or kube-apiserver exits without being asked to. */
  readonly unexpectedExit: Promise<string>;
}

class StartError extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.name = 'StartError';
    this.portInUse = portInUse;
  }
}

async function failureReport(
  message: string,
  logs: readonly { name: string; file: string }[],
): Promise<StartError> {
  let text = message;
  let portInUse = false;
  for (const { name, file } of logs) {
    const tail = await logTail(file, 25);
    if (/address already in use/.test(tail)) portInUse = true;
    text += `\n--- last lines of the ${name} log ---\n${tail || '(empty)'}`;
  }
  return new StartError(text, portInUse);
}

interface Started {
  readonly files: Layout;
  readonly pki: Pki;
  readonly ports: Ports;
  /** The host's 127.0.0.1 port of the API server (the relay's, in an underlay). */
  readonly hostPort: number;
  readonly etcd: ServerProcess;
  readonly apiServer: ServerProcess;
  readonly relay: ServerProcess | undefined;
}

/** The command line of a server: as is, or entered into the underlay namespace by nsenter. */
function inUnderlay(
  underlay: UnderlayPlacement | undefined,
  command: string,
  args: readonly string[],
): { command: string; args: readonly string[] } {
  return underlay
    ? { command: underlay.nsenter, args: [`--net=${underlay.path}`, '--', command, ...args] }
    : { command, args };
}

/** Starts etcd and kube-apiserver in `files.dir`; on failure stops what it started and throws. */
async function startServers(
  files: Layout,
  pki: Pki,
  binaries: ControlPlaneBinaries,
  options: ControlPlaneOptions,
  log: (line: string) => void,
): Promise<Started> {
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  const underlay = options.netns;
  // An underlay namespace holds nothing else: the usual ports; the host's are found free first.
  const ports: Ports = underlay
    ? { etcdClient: 2379, etcdPeer: 2380, apiServer: underlayApiServerPort }
    : { etcdClient: await freePort(), etcdPeer: await freePort(), apiServer: await freePort() };
  const started: ServerProcess[] = [];
  const logs = [
    { name: 'etcd', file: files.etcdLog },
    { name: 'kube-apiserver', file: files.apiServerLog },
  ];
  try {
    log(`starting etcd on 127.0.0.1:${ports.etcdClient}`);
    const etcd = await startServerProcess({
      name: 'etcd',
      ...inUnderlay(underlay, binaries.etcd, etcdArgs(files, ports)),
      logFile: files.etcdLog,
      cwd: files.dir,
      env: { ...options.serverEnv },
      kill: options.kill,
    });
    started.push(etcd);
    // In an underlay, etcd is out of this process's reach: the API server's /readyz covers it.
    if (!underlay) {
      const etcdHealth = `http://127.0.0.1:${ports.etcdClient}/health`;
      await waitUntil(
        'etcd /health',
        async () => {
          const { status, body } = await httpGetStatus(etcdHealth, 2000);
          return { ok: status === 200 && /"health":\s*"true"/.test(body), detail: `${status} ${body}` };
        },
        [etcd],
        deadline,
        timeoutMs,
        options.signal,
      );
    }
    let relay: ServerProcess | undefined;
    let hostPort = ports.apiServer;
    if (underlay) {
      hostPort = await freePort();
      relay = await startServerProcess({
        name: 'api-relay',
        command: underlay.relay,
        args: [
          '-listen',
          `127.0.0.1:${hostPort}`,
          '-target-netns',
          underlay.path,
          '-target',
          `127.0.0.1:${ports.apiServer}`,
        ],
        logFile: join(files.dir, 'api-relay.log'),
        cwd: files.dir,
        env: { ...options.serverEnv },
        kill: options.kill,
      });
      started.push(relay);
    }
    log(
      `starting kube-apiserver on https://${underlay ? `${underlay.address}:${ports.apiServer} (in ${underlay.path}; relayed from 127.0.0.1:${hostPort})` : `127.0.0.1:${ports.apiServer}`}`,
    );
    const apiServer = await launchApiServer(files, ports, binaries, options);
    started.push(apiServer);
    await waitForReadyz(hostPort, pki.admin, [etcd, apiServer], deadline, timeoutMs, options.signal);
    return { files, pki, ports, hostPort, etcd, apiServer, relay };
  } catch (err) {
    if (options.signal?.aborted) {
      await Promise.all(started.reverse().map((s) => s.stop(options.stopTimeoutMs ?? 10_000)));
      throw err;
    }
    const report = await failureReport(
      `the control plane did not start: ${err instanceof Error ? err.message : String(err)}`,
      logs,
    );
    await Promise.all(started.reverse().map((s) => s.stop(options.stopTimeoutMs ?? 10_000)));
    throw report;
  }
}

function launchApiServer(
  files: Layout,
  ports: Ports,
  binaries: ControlPlaneBinaries,
  options: ControlPlaneOptions,
): Promise<ServerProcess> {
  const underlay = options.netns;
  const network = underlay
    ? {
        bindAddress: '0.0.0.0',
        advertiseAddress: underlay.address,
        kubeletAddressType: 'InternalIP' as const,
        serviceClusterIpRange: underlay.serviceClusterIpRange,
      }
    : undefined;
  return startServerProcess({
    name: 'kube-apiserver',
    ...inUnderlay(
      underlay,
      binaries.kubeApiServer,
      apiServerArgs(files, ports, options.apiServerArgs ?? [], options.profile, network),
    ),
    logFile: files.apiServerLog,
    cwd: files.dir,
    env: { ...options.serverEnv },
    kill: options.kill,
  });
}

function waitForReadyz(
  hostPort: number,
  admin: TlsClient,
  servers: readonly ServerProcess[],
  deadline: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const readyz = `https://127.0.0.1:${hostPort}/readyz`;
  return waitUntil(
    'kube-apiserver /readyz',
    async () => {
      const { status, body } = await httpsGet(readyz, admin, 5000);
      return { ok: status === 200, detail: `${status} ${body.slice(0, 300)}` };
    },
    servers,
    deadline,
    timeoutMs,
    signal,
  );
}

/**
 * Starts etcd and kube-apiserver (building the binaries first when they are missing) and resolves
 * once /readyz answers ok. On any failure everything started so far is stopped, the temp dir is
 * removed, and the error carries the tail of both servers' logs.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log ?? ((): void => undefined);
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const binaries = await ensureBinaries({
    cacheDir: options.cacheDir,
    ...(options.binDir !== undefined ? { binDir: options.binDir } : {}),
    build: options.build ?? true,
    env: options.env ?? {},
    log,
    kill: options.kill,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const startedAt = Date.now();
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'multinet-controlplane-'));
  let running: Started | undefined;
  let adminKubeconfig: string;
  try {
    const files = layout(dir);
    const pki = await writePki(files, [
      ...(options.servingIps ?? []),
      ...(options.netns ? [options.netns.address] : []),
    ]);
    for (let attempt = 1; !running; attempt++) {
      try {
        running = await startServers(files, pki, binaries, options, log);
      } catch (err) {
        // Another process took one of the free ports between the check and the bind: new ports.
        if (!(err instanceof StartError) || !err.portInUse || attempt >= 3) throw err;
        log(`a port was taken meanwhile; retrying (attempt ${attempt + 1})`);
        await rm(files.etcdData, { recursive: true, force: true });
      }
    }
    adminKubeconfig = renderKubeconfig({
      server: `https://127.0.0.1:${running.hostPort}`,
      caPem: pki.ca.certPem,
      name: 'multinet-test',
      user: 'multinet-admin',
      credentials: { clientCertPem: pki.admin.cert, clientKeyPem: pki.admin.key },
    });
    await writeFile(files.adminKubeconfig, adminKubeconfig, { mode: 0o600 });
  } catch (err) {
    if (running) {
      await running.apiServer.stop(stopTimeoutMs);
      await running.relay?.stop(stopTimeoutMs);
      await running.etcd.stop(stopTimeoutMs);
    }
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { files, pki, ports, hostPort, etcd, relay } = running;
  let { apiServer } = running;
  const serverUrl = `https://127.0.0.1:${hostPort}`;
  const nodeUrl = options.netns ? `https://${options.netns.address}:${ports.apiServer}` : serverUrl;
  log(
    `control plane ready at ${serverUrl} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (dir ${dir})`,
  );

  let stopping: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  let reportExit: (what: string) => void = () => undefined;
  const unexpectedExit = new Promise<string>((resolve) => (reportExit = resolve));
  const stoppedOnPurpose = new Set<ServerProcess>();
  /** Reports the exit of `server` unless it was stopped on purpose. */
  const watch = (server: ServerProcess): void => {
    void server.exited.then((status) => {
      if (!stopping && !stoppedOnPurpose.has(server)) {
        reportExit(`${server.name} ${status}; see ${server.logFile}`);
      }
    });
  };
  watch(etcd);
  watch(apiServer);
  if (relay) watch(relay);
  const kubeConfig = (): KubeConfig => kubeConfigFromYaml(adminKubeconfig);

  return {
    serverUrl,
    caPem: pki.ca.certPem,
    ca: pki.ca,
    adminKubeconfig,
    adminKubeconfigPath: files.adminKubeconfig,
    nodeUrl,
    dir,
    files,
    etcdUrl: `http://127.0.0.1:${ports.etcdClient}`,
    binaries,
    apiServerLog: files.apiServerLog,
    etcdLog: files.etcdLog,
    unexpectedExit,
    kubeConfig,
    createNamespace: (prefix) => createNamespace(kubeConfig(), prefix),
    serviceAccountToken: (namespace, name, access) =>
      createServiceAccountToken(kubeConfig(), namespace, name, access),
    restartApiServer(): Promise<void> {
      if (stopping) return Promise.reject(new Error('the control plane is stopped'));
      restarting ??= (async (): Promise<void> => {
        const timeoutMs = options.startTimeoutMs ?? 90_000;
        log('restarting kube-apiserver');
        stoppedOnPurpose.add(apiServer);
        await apiServer.stop(stopTimeoutMs);
        apiServer = await launchApiServer(files, ports, binaries, options);
        watch(apiServer);
        try {
          await waitForReadyz(hostPort, pki.admin, [etcd, apiServer], Date.now() + timeoutMs, timeoutMs);
        } catch (err) {
          throw await failureReport(
            `kube-apiserver did not come back (logs in ${dir}): ${err instanceof Error ? err.message : String(err)}`,
            [{ name: 'kube-apiserver', file: files.apiServerLog }],
          );
        }
        log('kube-apiserver is ready again');
      })().finally(() => (restarting = undefined));
      return restarting;
    },
    stop(): Promise<void> {
      stopping ??= (async (): Promise<void> => {
        await restarting?.catch(() => undefined);
        log('stopping kube-apiserver and etcd');
        await apiServer.stop(stopTimeoutMs);
        await relay?.stop(stopTimeoutMs);
        await etcd.stop(stopTimeoutMs);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
