/**
 * A memory cgroup (v1) for a daemon under benchmark, below the benchmark's own: the daemon is born in it
 * (its start command is prefixed with `wrapper`), so are the processes it starts (the agent's spawner,
 * the plugins, their IPAM), and the kernel counts them together, as it does for a pod's container
 * against its memory limit. Its limit is the chart's; the peak and the OOM kills are the kernel's.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  /** Prefix of the daemon's command: a shell that moves itself into the cgroup and execs the rest. */
  readonly wrapper: readonly string[];
  /** Highest usage (MB) since the cgroup was made or resetPeak. */
  peakMb(): number;
  /** Starts the peak over from the current usage. */
  resetPeak(): void;
  /** How many processes the kernel OOM-killed in it. */
  oomKills(): number;
  /** Removes it once its processes have exited (a killed one may hold it for a moment). */
  remove(): Promise<void>;
}

const mount = '/sys/fs/cgroup/memory';

/** The benchmark's own memory cgroup (v1), or why there is none to nest in. */
function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1] === 'memory');
  if (!line)
    throw new Error(
      `no cgroup v1 memory controller (${mount}): the burst's memory with its delegates cannot be measured here`,
    );
  return join(mount, line.split(':')[2]!);
}

/** Makes `<own cgroup>/<name>` with a memory limit of `limitBytes`. */
export function memoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const dir = join(ownCgroup(), name);
  mkdirSync(dir);
  const file = (f: string): string => join(dir, f);
  writeFileSync(file('memory.limit_in_bytes'), String(limitBytes));
  return {
    wrapper: ['/bin/sh', '-c', 'echo $$ >"$0" && exec "$@"', file('cgroup.procs')],
    peakMb: () => Number(readFileSync(file('memory.max_usage_in_bytes'), 'utf8')) / 2 ** 20,
    resetPeak: () => writeFileSync(file('memory.max_usage_in_bytes'), '0'),
    oomKills: () =>
      Number(/^oom_kill (\d+)$/m.exec(readFileSync(file('memory.oom_control'), 'utf8'))?.[1] ?? 0),
    async remove() {
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          if (attempt >= 100)
            throw new Error(`cannot remove the cgroup ${dir}: ${String(err)}`, { cause: err });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
  };
}

/** A Kubernetes memory quantity ("512Mi", "1Gi", "300M") in bytes. */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`cannot read the memory quantity ${JSON.stringify(quantity)}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1;
  return Math.round(Number(match[1]) * unit);
}
