/**
 * Writes the node's multinet CNI config (00-multinet.conflist) from its default network, and keeps it
 * in step when the conf dir changes. The file is only ever replaced atomically and only when its
 * content changes; it is never written empty, never points at itself or another meta-plugin, and is
 * not removed on shutdown: pods created while the agent restarts wait for it (the shim retries)
 * instead of silently getting only the default network.
 */
import { join } from 'node:path';
import type { Logger } from 'winston';
import { declaredCapabilities } from '../lib/cni/config.ts';
import type { ExternalConfigChange, NodeCniConfigState } from '../lib/node-state.ts';
import type { FileSystem } from '../lib/ports.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import { isConfigFileName, scanConfDir, type ConfDirScan, type ConfFile } from './conf-dir.ts';

export interface ShimConfigOptions {
  readonly confDir: string;
  readonly fileName: string;
  /** The shim's executable name in the CNI bin dir (the generated plugin's `type`). */
  readonly shimType: string;
  readonly socketPath: string;
  readonly stateDir: string;
  /** How long the shim waits for an unreachable agent on ADD/CHECK. */
  readonly agentWaitSeconds: number;
  /** The generated config's cniVersion; the default network's when unset. */
  readonly cniVersion?: string | undefined;
  readonly networkName: string;
}

/** The generated conflist for a default network. */
function renderShimConfig(defaultNetwork: ConfFile, options: ShimConfigOptions): string {
  const capabilities: JsonObject = {};
  for (const capability of [...declaredCapabilities(defaultNetwork.config)].sort())
    capabilities[capability] = true;
  const conflist = {
    cniVersion: options.cniVersion ?? defaultNetwork.config.cniVersion,
    name: options.networkName,
    plugins: [
      {
        type: options.shimType,
        ...(Object.keys(capabilities).length > 0 ? { capabilities } : {}),
        socketPath: options.socketPath,
        stateDir: options.stateDir,
        agentWaitSeconds: options.agentWaitSeconds,
        defaultNetwork: { name: defaultNetwork.config.name, file: defaultNetwork.path },
      },
    ],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

export interface SyncOutcome {
  readonly scan: ConfDirScan;
  readonly defaultNetwork: ConfFile | undefined;
  readonly written: boolean;
}

export class ConfWriter {
  private readonly fs: FileSystem;
  private readonly options: ShimConfigOptions;
  private readonly log: Logger;
  private readonly now: () => Date;
  private lastScan: ConfDirScan | undefined;
  private reported = '';
  /** What this agent last wrote or found in place: a file that differs from it was changed by someone else. */
  private current: string | undefined;
  private externalChange: ExternalConfigChange | null = null;

  constructor(fs: FileSystem, options: ShimConfigOptions, log: Logger, now: () => Date = () => new Date()) {
    this.fs = fs;
    this.options = options;
    this.log = log;
    this.now = now;
  }

  get path(): string {
    return join(this.options.confDir, this.options.fileName);
  }

  /** The latest scan of the conf dir (scanning now when there is none yet). */
  async scan(): Promise<ConfDirScan> {
    return this.lastScan ?? (await this.sync()).scan;
  }

  /** Rescans the conf dir and rewrites the generated file if its content would change. */
  async sync(): Promise<SyncOutcome> {
    const scan = await scanConfDir(
      this.fs,
      this.options.confDir,
      this.options.fileName,
      this.options.shimType,
    );
    this.lastScan = scan;
    const report = JSON.stringify(scan.skipped);
    if (report !== this.reported) {
      this.reported = report;
      for (const skip of scan.skipped) this.log.warn('CNI config skipped', skip);
    }
    const defaultNetwork = scan.files[0];
    if (!defaultNetwork) {
      this.log.warn('no default network config yet; waiting for one', { confDir: this.options.confDir });
      return { scan, defaultNetwork, written: false };
    }
    const wanted = renderShimConfig(defaultNetwork, this.options);
    const current = await this.fs.readFile(this.path).catch(() => undefined);
    if (current === wanted) {
      this.current = current;
      return { scan, defaultNetwork, written: false };
    }
    if (this.current !== undefined && current !== this.current) {
      // Someone else removed or edited it (a CNI installer, a cleanup): while it was gone the runtime
      // used the next config, so pods created meanwhile got only the default network. Said loudly, and
      // reported in the NodeNetworkState (multinet doctor shows it).
      const change = current === undefined ? 'removed' : 'changed';
      this.externalChange = {
        time: this.now()
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z'),
        change,
      };
      this.log.warn(`the multinet CNI config was ${change} by something else; writing it again`, {
        path: this.path,
      });
    }
    await this.fs.writeFileAtomic(this.path, wanted, 0o644);
    this.current = wanted;
    this.log.info('wrote the multinet CNI config', { path: this.path, defaultNetwork: defaultNetwork.path });
    return { scan, defaultNetwork, written: true };
  }

  /** The conf dir as the node's report shows it: the generated file, the runtime's file, the last external change. */
  async state(): Promise<NodeCniConfigState> {
    const names = (await this.fs.list(this.options.confDir)).filter(isConfigFileName).sort();
    // Missing, or there but not JSON (present, made from nothing this agent can name).
    const present = (await this.fs.stat(this.path)) !== undefined;
    let generatedFrom = '';
    try {
      const parsed = JSON.parse(await this.fs.readFile(this.path)) as unknown;
      const plugins = isObject(parsed) && Array.isArray(parsed.plugins) ? parsed.plugins : [];
      const first: unknown = plugins[0];
      const named = isObject(first) && isObject(first.defaultNetwork) ? first.defaultNetwork.file : undefined;
      if (typeof named === 'string') generatedFrom = named;
    } catch {
      generatedFrom = '';
    }
    return {
      path: this.path,
      present,
      runtimeFile: names[0] ? join(this.options.confDir, names[0]) : '',
      generatedFrom,
      externalChange: this.externalChange,
    };
  }
}
