/**
 * What a local run (the single node, kube-node.ts; the cluster, dev/cluster/kube-cluster.ts) started and
 * changed, and the steps that undo it: its long-running processes, the image registry, the control plane,
 * the host's state from before the run, its run dir and the machine's lock. Each run orders the steps its
 * own way around what only it made (cgroups, links, the underlay); the ledger is what they share, with
 * the report of a start that failed and the promise of a component that exits on its own.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../lib/errors.ts';
import type { Kill } from '../../lib/ports.ts';
import type { ControlPlane } from '../controlplane/controlplane.ts';
import { waitUntil } from '../controlplane/readiness.ts';
import { logTail, startServerProcess, type ServerProcess } from '../controlplane/server-process.ts';
import { restoreHost, snapshotHost, snapshotJson, type HostSnapshot } from './host-state.ts';
import type { Teardown } from './local-run.ts';
import { releaseMachineLock, snapshotFile } from './machine-lock.ts';
import type { LocalRegistry } from './registry.ts';

/** How the run's processes start: where they log, run and what they join. */
export interface RunProcessDefaults {
  readonly logDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly kill: Kill;
  /** cgroup.procs files each process joins (the single node's daemons cgroup). */
  readonly cgroupProcs?: readonly string[];
}

export class RunLedger {
  /** The run's own processes, in the order they started (stopped in reverse). */
  readonly servers: ServerProcess[] = [];
  controlPlane: ControlPlane | undefined;
  registry: LocalRegistry | undefined;
  private snapshot: HostSnapshot | undefined;
  private stopping = false;

  /** The run dir: everything the run writes, removed last. */
  readonly dir: string;
  private readonly defaults: RunProcessDefaults;

  constructor(dir: string, defaults: RunProcessDefaults) {
    this.dir = dir;
    this.defaults = defaults;
  }

  /** Starts a process of the run (its output in logDir/NAME.log), to be stopped with it. */
  async start(name: string, command: string, args: readonly string[]): Promise<ServerProcess> {
    const server = await startServerProcess({
      name,
      command,
      args,
      logFile: join(this.defaults.logDir, `${name}.log`),
      cwd: this.dir,
      env: this.defaults.env,
      kill: this.defaults.kill,
      ...(this.defaults.cgroupProcs ? { cgroupProcs: this.defaults.cgroupProcs } : {}),
    });
    this.servers.push(server);
    return server;
  }

  /** Records the host's state before the run changes it, in the run dir too (for cleaning up a killed run). */
  async snapshotHost(): Promise<void> {
    this.snapshot = await snapshotHost();
    await writeFile(join(this.dir, snapshotFile), snapshotJson(this.snapshot), { mode: 0o600 });
  }

  /** From now on, a process that exits was asked to: unexpectedExit stays silent. */
  beginStop(): void {
    this.stopping = true;
  }

  async stopProcesses(teardown: Teardown): Promise<void> {
    for (const server of [...this.servers].reverse())
      await teardown.attempt(`stop ${server.name}`, () => server.stop(10_000));
  }

  async stopRegistryAndControlPlane(teardown: Teardown): Promise<void> {
    await teardown.attempt('stop the registry', async () => this.registry?.close());
    await teardown.attempt('stop the control plane', async () => this.controlPlane?.stop());
  }

  /** Puts back the host's state the snapshot recorded (sysctls, fixed dirs). */
  async restoreHost(teardown: Teardown): Promise<void> {
    if (this.snapshot) teardown.problems.push(...(await restoreHost(this.snapshot)));
  }

  /** The last steps: the run dir goes and the machine is free for another run. */
  async removeRunDir(teardown: Teardown): Promise<void> {
    await teardown.attempt('remove the run dir', () => rm(this.dir, { recursive: true, force: true }));
    await releaseMachineLock(this.dir);
  }

  /**
   * Resolves with a description once one of the run's processes (or `others`, or the control plane)
   * exits while the run was not stopping.
   */
  unexpectedExit(others: readonly ServerProcess[] = []): Promise<string> {
    return new Promise<string>((resolve) => {
      for (const server of [...this.servers, ...others]) {
        void server.exited.then((status) => {
          if (!this.stopping) resolve(`${server.name} ${status}; see ${server.logFile}`);
        });
      }
      void this.controlPlane?.unexpectedExit.then(resolve);
    });
  }

  /**
   * A start that failed: stops everything (`stop`), then throws with what went wrong and the last lines
   * of each process' log (the run's and `others`); an interrupted start throws its own error as it is.
   */
  async failedStart(
    err: unknown,
    label: string,
    others: readonly ServerProcess[],
    stop: () => Promise<void>,
    signal: AbortSignal | undefined,
  ): Promise<never> {
    const reports: string[] = [];
    for (const server of [...this.servers, ...others]) {
      const tail = await logTail(server.logFile, 15);
      reports.push(`--- last lines of the ${server.name} log ---\n${tail || '(empty)'}`);
    }
    await stop().catch((stopErr: unknown) => reports.push(errorMessage(stopErr)));
    if (signal?.aborted) throw err;
    throw new Error(`${label} did not start: ${errorMessage(err)}\n${reports.join('\n')}`, { cause: err });
  }
}

/**
 * Resolves once pods can be made in the default namespace: its ServiceAccount and kube-root-ca.crt exist
 * (the controller-manager makes both after the node is Ready). Fails early when one of `daemons` exits.
 */
export async function waitForPodPrerequisites(
  core: CoreV1Api,
  daemons: readonly ServerProcess[],
  deadline: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  await waitUntil(
    'the default ServiceAccount and kube-root-ca.crt',
    async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' });
      return { ok: true, detail: '' };
    },
    daemons,
    deadline,
    timeoutMs,
    signal,
  );
}
