/**
 * In-memory implementations of the project's ports (lib/ports.ts) for unit tests: a file system in a
 * Map, and an Exec whose "binaries" are functions, recording every call.
 */
import { dirname } from 'node:path';
import type { Clock, Exec, ExecRequest, ExecResult, FileInfo, FileSystem } from '../../lib/ports.ts';
import { isTempFileName } from '../../platform/nodejs/fs.ts';

interface MemoryFile {
  data: string;
  mode: number;
  mtimeMs: number;
}

export class MemoryFs implements FileSystem {
  readonly files = new Map<string, MemoryFile>();
  readonly dirs = new Set<string>(['/']);
  /** Files that are namespace files (what a bind-mounted /run/netns/NAME is on nsfs). */
  readonly namespaces = new Set<string>();
  writes = 0;
  private tick = 1;

  put(path: string, data: string, mode = 0o644): void {
    this.files.set(path, { data, mode, mtimeMs: this.tick++ });
    for (let dir = dirname(path); !this.dirs.has(dir); dir = dirname(dir)) this.dirs.add(dir);
  }

  /** A network namespace file at path (as `ip netns add` makes one). */
  putNamespace(path: string): void {
    this.put(path, '', 0o444);
    this.namespaces.add(path);
  }

  readFile(path: string): Promise<string> {
    const file = this.files.get(path);
    return file
      ? Promise.resolve(file.data)
      : Promise.reject(Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' }));
  }

  writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
    this.writes++;
    this.put(path, typeof data === 'string' ? data : Buffer.from(data).toString('utf8'), mode);
    return Promise.resolve();
  }

  async copyFileAtomic(from: string, to: string, mode: number): Promise<void> {
    this.put(to, await this.readFile(from), mode);
  }

  remove(path: string): Promise<void> {
    this.files.delete(path);
    this.namespaces.delete(path);
    return Promise.resolve();
  }

  list(dir: string): Promise<string[]> {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const names = new Set<string>();
    for (const path of [...this.files.keys(), ...this.dirs]) {
      if (path.startsWith(prefix) && path !== prefix) names.add(path.slice(prefix.length).split('/')[0]!);
    }
    return Promise.resolve([...names]);
  }

  stat(path: string): Promise<FileInfo | undefined> {
    const file = this.files.get(path);
    if (file)
      return Promise.resolve({
        mtimeMs: file.mtimeMs,
        size: file.data.length,
        isFile: true,
        mode: file.mode,
      });
    if (this.dirs.has(path)) return Promise.resolve({ mtimeMs: 0, size: 0, isFile: false, mode: 0o755 });
    return Promise.resolve(undefined);
  }

  mkdir(path: string): Promise<void> {
    for (let dir = path; !this.dirs.has(dir); dir = dirname(dir)) this.dirs.add(dir);
    return Promise.resolve();
  }

  isNamespaceFile(path: string): Promise<boolean> {
    return Promise.resolve(this.namespaces.has(path) && this.files.has(path));
  }

  /** Writes here need no temp files; a test may put some (as a killed writer leaves them). */
  async removeTempFiles(dir: string, target?: string): Promise<string[]> {
    const stale = (await this.list(dir)).filter((name) => isTempFileName(name, target));
    for (const name of stale) this.files.delete(`${dir}/${name}`);
    return stale;
  }
}

export interface PluginCall {
  readonly plugin: string;
  readonly command: string;
  readonly ifName: string;
  readonly containerId: string;
  readonly stdin: Record<string, unknown>;
  readonly env: Readonly<Record<string, string>>;
}

export type FakePlugin = (call: PluginCall) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

/** An Exec whose binaries are functions registered by path; VERSION is answered for them. */
export class MemoryExec implements Exec {
  readonly calls: PluginCall[] = [];
  private readonly plugins = new Map<string, FakePlugin>();
  supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

  private readonly fs: MemoryFs;

  constructor(fs: MemoryFs) {
    this.fs = fs;
  }

  /** Registers a plugin binary at path (and creates the executable file). */
  register(path: string, plugin: FakePlugin): void {
    this.plugins.set(path, plugin);
    this.fs.put(path, `fake plugin ${path}`, 0o755);
  }

  async run(request: ExecRequest): Promise<ExecResult> {
    const plugin = this.plugins.get(request.file);
    if (!plugin) return { code: 127, stdout: '', stderr: `no such file ${request.file}`, timedOut: false };
    const command = request.env.CNI_COMMAND ?? '';
    if (command === 'VERSION') {
      return {
        code: 0,
        stdout: JSON.stringify({ cniVersion: '1.0.0', supportedVersions: this.supportedVersions }),
        stderr: '',
        timedOut: false,
      };
    }
    const call: PluginCall = {
      plugin: request.file.split('/').pop()!,
      command,
      ifName: request.env.CNI_IFNAME ?? '',
      containerId: request.env.CNI_CONTAINERID ?? '',
      stdin: JSON.parse(request.stdin ?? '{}') as Record<string, unknown>,
      env: request.env,
    };
    this.calls.push(call);
    const out = await plugin(call);
    return {
      code: out.code === undefined ? 0 : out.code,
      ...(out.signal ? { signal: out.signal } : {}),
      stdout: out.stdout ?? '',
      stderr: out.stderr ?? '',
      timedOut: out.timedOut ?? false,
    };
  }
}

/** A clock that never really sleeps: time moves forward by the sleep. */
export class FakeClock implements Clock {
  time = 1_000_000;
  now(): number {
    return this.time;
  }
  sleep(ms: number): Promise<void> {
    this.time += ms;
    return Promise.resolve();
  }
}

/** A result a fake plugin can print for an interface in the sandbox. */
export function fakeResult(
  cniVersion: string,
  ifName: string,
  address: string,
  netns = '/var/run/netns/test',
): string {
  const v1 = !cniVersion.startsWith('0.');
  return JSON.stringify({
    cniVersion,
    interfaces: [{ name: ifName, mac: '0a:58:00:00:00:01', sandbox: netns }],
    ips: [{ address, interface: 0, ...(v1 ? {} : { version: address.includes(':') ? '6' : '4' }) }],
    dns: {},
  });
}
