/**
 * The ports through which domain code touches the machine. Entry points pass the real
 * implementations (platform/nodejs/); unit tests pass in-memory ones (test/doubles/memory-ports.ts).
 */

export interface ExecRequest {
  /** Absolute path of the executable. */
  readonly file: string;
  readonly args?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly stdin?: string;
  /** Killed (with its process group) after this long. */
  readonly timeoutMs: number;
}

/** What an Exec keeps of a run's stdout and of its stderr; beyond, output is dropped (a plugin's result is a few KiB). */
export const maxExecOutputBytes = 4 * 1024 * 1024;

export interface ExecResult {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  /** The signal that killed it (SIGKILL, ...), when code is null. */
  readonly signal?: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** Its peak resident memory (it and the processes it waited for), in KiB, when the Exec can tell. */
  readonly maxRssKiB?: number;
}

export interface Exec {
  run(request: ExecRequest): Promise<ExecResult>;
}

export interface FileInfo {
  readonly mtimeMs: number;
  /** The inode change time: changes with every write, rename onto and chmod, also when mtime is put back. */
  readonly ctimeMs?: number;
  readonly ino?: number;
  readonly size: number;
  readonly isFile: boolean;
  readonly mode: number;
}

export interface FileSystem {
  readFile(path: string): Promise<string>;
  /**
   * Writes via a temp file in the same directory, fsync and rename: readers never see a partial file.
   * With `fsync: false` the file is only renamed into place: still never partial and it survives a
   * crash of this process, but not necessarily a power loss (for records rewritten on every request).
   * A failed write leaves nothing behind and its error names the file ("cannot write PATH: ENOSPC: ...").
   */
  writeFileAtomic(
    path: string,
    data: string | Uint8Array,
    mode?: number,
    options?: { readonly fsync?: boolean },
  ): Promise<void>;
  /** Copies a file atomically (temp + rename), keeping it executable when mode says so. */
  copyFileAtomic(from: string, to: string, mode: number): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Names of the entries of a directory; a missing directory gives []. */
  list(dir: string): Promise<string[]>;
  stat(path: string): Promise<FileInfo | undefined>;
  mkdir(path: string, mode?: number): Promise<void>;
  /**
   * Whether path is a namespace file (on nsfs: a live /run/netns/NAME or /proc/PID/ns/net), not a
   * regular file or a missing one. A network namespace exists exactly while its file is one.
   */
  isNamespaceFile(path: string): Promise<boolean>;
  /**
   * Removes the temp files that writeFileAtomic or copyFileAtomic left in dir when the process died
   * between writing and renaming (only those of target, when given); returns their names.
   */
  removeTempFiles(dir: string, target?: string): Promise<string[]>;
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The running process, as the entry point exposes it to commands that manage other processes. */
export interface ProcessPort {
  /** The effective user id (undefined where the platform has none). */
  readonly uid: number | undefined;
  readonly pid: number;
  /** Sends a signal (0 probes whether the process exists); throws like process.kill. */
  kill(pid: number, signal: NodeJS.Signals | 0): void;
}

/** A signal to a process, or to a process group with a negative pid (process.kill's shape). */
export type Kill = ProcessPort['kill'];

/** Time and timers (the work queue's, the controller's, leader election's), injected so tests can drive them. */
export interface Scheduler {
  now(): number;
  setTimer(callback: () => void, ms: number): { cancel(): void };
}
