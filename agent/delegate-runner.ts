/**
 * Executes one delegate network (a single config or a conflist) the way libcni does: finds each
 * plugin binary in the bin dirs, checks that it speaks the config's CNI version, chains ADD results
 * as prevResult, runs DEL in reverse order with the cached result, and bounds every plugin run with
 * a timeout. Namespace work happens inside the plugins; this process never enters a namespace.
 */
import { join } from 'node:path';
import type { Logger } from 'winston';
import { formatCniArgs } from '../lib/cni/args.ts';
import type { NetworkConfig } from '../lib/cni/config.ts';
import { asCniError, CniError, CniErrorCode } from '../lib/cni/error.ts';
import { pluginStdin, type InvocationInput } from '../lib/cni/invocation.ts';
import { parseCniResult, resultToJson, type CniResult } from '../lib/cni/result.ts';
import { compareVersions, supportsCheck, supportsStatusAndGc } from '../lib/cni/version.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import type { Exec, ExecRequest, ExecResult, FileInfo, FileSystem } from '../lib/ports.ts';
import type { AgentObserver } from './observer.ts';

/** A network to attach: `namespace/name` of its NAD, or the network name of a config file. */
export interface DelegateNetwork {
  readonly name: string;
  readonly config: NetworkConfig;
}

/** The container side of a call. */
export interface DelegateTarget {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS pairs (K8S_POD_NAMESPACE, ...). */
  readonly args: Readonly<Record<string, string>>;
}

export interface DelegateRunnerOptions {
  readonly exec: Exec;
  readonly fs: FileSystem;
  readonly binDirs: readonly string[];
  readonly timeoutMs: number;
  /** Environment every plugin inherits besides the CNI_* variables (PATH, for plugins that run iptables). */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly log: Logger;
  /** Told about each plugin run: command, plugin type, outcome, seconds from start to exit. */
  readonly observe?: AgentObserver['delegate'];
}

type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';

interface VersionInfo {
  readonly key: string;
  readonly supported: readonly string[];
}

export class DelegateRunner {
  private readonly options: DelegateRunnerOptions;
  private readonly versions = new Map<string, VersionInfo>();

  constructor(options: DelegateRunnerOptions) {
    this.options = options;
  }

  /** ADD: runs the plugins in order, each getting the previous result; returns the last result. */
  async add(network: DelegateNetwork, target: DelegateTarget, input: InvocationInput): Promise<CniResult> {
    let prevResult: JsonObject | undefined;
    let result: CniResult | undefined;
    for (let i = 0; i < network.config.plugins.length; i++) {
      const output = await this.invoke('ADD', network, i, target, {
        ...input,
        ...(prevResult ? { prevResult } : {}),
      });
      result = parseCniResult(parseOutput(output, network, i), network.config.cniVersion);
      prevResult = resultToJson(result);
    }
    if (!result) throw new CniError(CniErrorCode.invalidConfig, `network ${network.name} has no plugins`);
    return result;
  }

  /** DEL: runs the plugins in reverse order with the cached result; every plugin runs even if one fails. */
  async del(network: DelegateNetwork, target: DelegateTarget, input: InvocationInput): Promise<void> {
    const errors: CniError[] = [];
    // libcni hands DEL the cached result only from 0.4.0 on.
    const delInput = supportsCheck(network.config.cniVersion) ? input : { ...input, prevResult: undefined };
    for (let i = network.config.plugins.length - 1; i >= 0; i--) {
      try {
        await this.invoke('DEL', network, i, target, delInput);
      } catch (err) {
        errors.push(asCniError(err));
      }
    }
    if (errors.length > 0) throw errors[0]!;
  }

  /** CHECK: in order, with the cached result; skipped for versions before 0.4.0 or when disabled. */
  async check(network: DelegateNetwork, target: DelegateTarget, input: InvocationInput): Promise<void> {
    if (!supportsCheck(network.config.cniVersion) || network.config.raw.disableCheck === true) return;
    for (let i = 0; i < network.config.plugins.length; i++)
      await this.invoke('CHECK', network, i, target, input);
  }

  /** STATUS (CNI 1.1): asks each plugin whether it can serve ADDs; older versions are assumed ready. */
  async status(network: DelegateNetwork): Promise<void> {
    if (!supportsStatusAndGc(network.config.cniVersion)) return;
    for (let i = 0; i < network.config.plugins.length; i++) {
      await this.invoke('STATUS', network, i, { containerId: '', netns: '', ifName: '', args: {} }, {});
    }
  }

  /** GC (CNI 1.1): hands the plugins the attachments that are still valid. */
  async gc(
    network: DelegateNetwork,
    validAttachments: ReadonlyArray<{ containerID: string; ifname: string }>,
  ): Promise<void> {
    if (!supportsStatusAndGc(network.config.cniVersion) || network.config.raw.disableGC === true) return;
    for (let i = 0; i < network.config.plugins.length; i++) {
      await this.invoke(
        'GC',
        network,
        i,
        { containerId: '', netns: '', ifName: '', args: {} },
        {},
        {
          'cni.dev/valid-attachments': validAttachments.map((a) => ({ ...a })),
        },
      );
    }
  }

  /** Where the plugin binary of `type` is, or a CniError that says where it was looked for. */
  async findPlugin(type: string, network: string): Promise<{ path: string; info: FileInfo }> {
    for (const dir of this.options.binDirs) {
      const path = join(dir, type);
      const info = await this.options.fs.stat(path);
      if (info?.isFile && (info.mode & 0o111) !== 0) return { path, info };
    }
    throw new CniError(
      CniErrorCode.invalidConfig,
      `plugin "${type}" of network ${network} was not found in ${this.options.binDirs.join(':')}; install it on this node`,
    );
  }

  private async invoke(
    command: Command,
    network: DelegateNetwork,
    index: number,
    target: DelegateTarget,
    input: InvocationInput,
    extra: JsonObject = {},
  ): Promise<string> {
    const plugin = network.config.plugins[index]!;
    const type = plugin.type as string;
    const { path, info } = await this.findPlugin(type, network.name);
    await this.checkVersion(path, info, type, network);
    const stdin = JSON.stringify({ ...pluginStdin(network.config, index, input), ...extra });
    const env: Record<string, string> = {
      ...this.options.baseEnv,
      CNI_COMMAND: command,
      CNI_CONTAINERID: target.containerId,
      CNI_NETNS: target.netns,
      CNI_IFNAME: target.ifName,
      CNI_ARGS: formatCniArgs({ IgnoreUnknown: '1', ...target.args }),
      CNI_PATH: this.options.binDirs.join(':'),
    };
    const { run, seconds } = await this.timed(command, type, {
      file: path,
      env,
      stdin,
      timeoutMs: this.options.timeoutMs,
    });
    // Checked first: winston pushes even a filtered entry through its stream pipeline.
    if (this.options.log.isDebugEnabled()) {
      this.options.log.debug('delegate plugin ran', {
        command,
        network: network.name,
        plugin: type,
        ifName: target.ifName,
        containerId: target.containerId,
        code: run.code,
        ms: Math.round(seconds * 1000),
      });
    }
    if (run.timedOut) {
      throw new CniError(
        CniErrorCode.tryAgainLater,
        `plugin "${type}" of network ${network.name} did not finish ${command} within ${this.options.timeoutMs} ms and was killed`,
      );
    }
    if (run.code !== 0) {
      const err = CniError.fromOutput(
        run.stdout,
        `plugin "${type}" of network ${network.name} failed ${command} (${run.code === null ? `killed by ${run.signal ?? 'a signal'}` : `exit code ${run.code}`})`,
      );
      const stderr = run.stderr.trim();
      throw new CniError(
        err.code,
        `network ${network.name}: ${err.message}`,
        err.details ?? (stderr ? stderr.slice(0, 2000) : undefined),
      );
    }
    return run.stdout;
  }

  /** Runs a plugin and tells the observer how long it took. */
  private async timed(
    command: Command | 'VERSION',
    type: string,
    request: ExecRequest,
  ): Promise<{ run: ExecResult; seconds: number }> {
    const started = performance.now();
    const run = await this.options.exec.run(request);
    const seconds = (performance.now() - started) / 1000;
    this.options.observe?.(
      command,
      type,
      run.timedOut ? 'timeout' : run.code === 0 ? 'ok' : 'error',
      seconds,
    );
    return { run, seconds };
  }

  /** Refuses a config version the plugin does not speak, instead of letting it fail obscurely. */
  private async checkVersion(
    path: string,
    info: FileInfo,
    type: string,
    network: DelegateNetwork,
  ): Promise<void> {
    const key = `${info.mtimeMs}:${info.size}`;
    let cached = this.versions.get(path);
    if (!cached || cached.key !== key) {
      const { run } = await this.timed('VERSION', type, {
        file: path,
        env: { ...this.options.baseEnv, CNI_COMMAND: 'VERSION' },
        stdin: JSON.stringify({ cniVersion: network.config.cniVersion }),
        timeoutMs: this.options.timeoutMs,
      });
      let supported: string[] = [];
      try {
        const parsed: unknown = JSON.parse(run.stdout);
        if (isObject(parsed) && Array.isArray(parsed.supportedVersions)) {
          supported = parsed.supportedVersions.filter((v): v is string => typeof v === 'string');
        }
      } catch {
        // a plugin that cannot answer VERSION is not second-guessed
      }
      cached = { key, supported };
      this.versions.set(path, cached);
    }
    if (cached.supported.length > 0 && !cached.supported.includes(network.config.cniVersion)) {
      const newest = [...cached.supported].sort(compareVersions).pop();
      throw new CniError(
        CniErrorCode.incompatibleVersion,
        `plugin "${type}" (${path}) does not support CNI ${network.config.cniVersion}, which network ${network.name} asks for; it supports ${cached.supported.join(', ')}: set "cniVersion" to ${newest ?? 'one of them'}`,
      );
    }
  }
}

function parseOutput(stdout: string, network: DelegateNetwork, index: number): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw new CniError(
      CniErrorCode.decodeFailure,
      `plugin "${network.config.plugins[index]!.type as string}" of network ${network.name} printed something that is not a CNI result`,
      stdout.slice(0, 2000),
    );
  }
}
