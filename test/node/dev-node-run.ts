/**
 * `multinet dev node ...` as a user runs it from a shell, for the tests of the single node and of the
 * cluster: its output collected, a wait until it says it runs, kubectl with the kubeconfig it wrote.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { eventuallyWhileRunning } from '../../dev/eventually.ts';
import { repoRoot } from '../../dev/repo-root.ts';
import { join } from 'node:path';
import { cacheDir } from './support.ts';

const multinet = join(repoRoot, 'bin', 'multinet');
const kubectlBin = join(cacheDir, 'bin', 'kubectl');

export interface DevNodeRun {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  /** Resolves once it prints that it runs; rejects with its output as soon as it exits instead. */
  up(): Promise<void>;
  readonly kubectl: (...args: string[]) => { status: number | null; stdout: string; stderr: string };
  /** `kubectl run NAME` of an alpine pod that sleeps (`overrides`: kubectl's --overrides), Ready. */
  runSleeper(name: string, overrides?: object): void;
}

/** Starts `multinet dev node ARGS --kubeconfig-out KUBECONFIG`. */
export function startDevNode(args: readonly string[], kubeconfig: string): DevNodeRun {
  const child = spawn(multinet, ['dev', 'node', ...args, '--kubeconfig-out', kubeconfig], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kubectl = (...kubectlArgs: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(kubectlBin, ['--kubeconfig', kubeconfig, ...kubectlArgs], {
      encoding: 'utf8',
      timeout: 180_000,
    });
  return {
    child,
    exited,
    output: () => output,
    up: async () => {
      await eventuallyWhileRunning(child, 'multinet dev node to run', () => output.includes('press Ctrl-C'), {
        timeoutMs: 1_800_000,
        detail: () => output,
      });
    },
    kubectl,
    runSleeper: (name, overrides) => {
      const run = kubectl(
        'run',
        name,
        '--image=docker.io/library/alpine:latest',
        '--restart=Never',
        ...(overrides ? [`--overrides=${JSON.stringify(overrides)}`] : []),
        '--',
        'sleep',
        '3600',
      );
      if (run.status !== 0) throw new Error(`kubectl run ${name}: ${run.stderr}`);
      const ready = kubectl('wait', '--for=condition=Ready', `pod/${name}`, '--timeout=120s');
      if (ready.status !== 0) throw new Error(`pod ${name} did not become Ready: ${ready.stderr}`);
    },
  };
}
