/**
 * The kubelet stub of test/kubelet-stub (a real gRPC server of k8s.io/kubelet's pod-resources API, in
 * Go), built on first use into the cache (keyed by its sources) and started on a unix socket with a
 * state file the test rewrites: what the "kubelet" allocated to which pod, a delay, an error.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../../dev/binaries.ts';
import { repoRoot } from '../../dev/repo-root.ts';

const source = join(repoRoot, 'test', 'kubelet-stub');

export interface StubDevice {
  readonly resourceName: string;
  readonly deviceIds: readonly string[];
}

export interface StubPod {
  readonly namespace: string;
  readonly name: string;
  readonly containers: ReadonlyArray<{ readonly name: string; readonly devices: readonly StubDevice[] }>;
}

export interface StubState {
  readonly pods: readonly StubPod[];
  readonly delayMs?: number;
  /** Pods of another namespace, each with a device, to make the answer large. */
  readonly padPods?: number;
  readonly error?: { readonly code: number; readonly message: string };
}

/** Builds the stub (once per source version) and returns its path. */
export function kubeletStubBinary(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go', 'dra_client.go'])
    hash.update(readFileSync(join(source, file)));
  const bin = join(defaultCacheDir(env, homedir()), 'bin', `kubelet-stub-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error(
      'Go is not installed: the kubelet stub (test/kubelet-stub, a pod-resources gRPC server) is built from k8s.io/kubelet; install Go >= 1.26',
    );
  }
  mkdirSync(join(bin, '..'), { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const build = spawnSync('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', tmp, '.'], {
    cwd: source,
    encoding: 'utf8',
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  if (build.status !== 0)
    throw new Error(`building test/kubelet-stub failed:\n${build.stdout}${build.stderr}`);
  renameSync(tmp, bin);
  return bin;
}

export class KubeletStub {
  readonly socket: string;
  private readonly statePath: string;
  private readonly child: ChildProcess;

  private constructor(socket: string, statePath: string, child: ChildProcess) {
    this.socket = socket;
    this.statePath = statePath;
    this.child = child;
  }

  /** Starts the stub on `<dir>/kubelet.sock` and resolves once it serves. */
  static async start(dir: string, state: StubState = { pods: [] }): Promise<KubeletStub> {
    const binary = kubeletStubBinary();
    const socket = join(dir, 'kubelet.sock');
    const statePath = join(dir, 'stub-state.json');
    writeFileSync(statePath, JSON.stringify(state));
    const child = spawn(binary, ['-socket', socket, '-state', statePath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`the kubelet stub exited with ${String(code)}: ${stderr}`)),
      );
      child.stdout.once('data', () => resolve());
    });
    return new KubeletStub(socket, statePath, child);
  }

  /** What the stub answers from now on (read again on every call). */
  setState(state: StubState): void {
    const tmp = `${this.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.statePath);
  }

  /** Stops it and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * The kubelet's side of a DRA driver's plugin socket (`kubelet-stub -dra-client`): each call goes out
 * through grpc-go and k8s.io/kubelet's generated clients, as the kubelet's own calls do, and comes back
 * as JSON (protobuf field names: `pool_name`, `share_id`, ...), or as the gRPC status code and message.
 */
export class DraClient {
  private readonly child: ChildProcess;
  private readonly waiting: Array<(line: string) => void> = [];
  private buffered = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  static start(socket: string): DraClient {
    return new DraClient(
      spawn(kubeletStubBinary(), ['-dra-client', '-socket', socket], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
  }

  /** One call; resolves with {result} or {code, error}. */
  call(call: Record<string, unknown>): Promise<{ result?: unknown; code?: number; error?: string }> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`the DRA client exited with ${String(code)}`));
      this.child.once('exit', onExit);
      this.waiting.push((line) => {
        this.child.off('exit', onExit);
        resolve(JSON.parse(line) as { result?: unknown; code?: number; error?: string });
      });
      this.child.stdin!.write(`${JSON.stringify(call)}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    await exited;
  }
}
