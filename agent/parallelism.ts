/**
 * How many CNI requests the agent serves at once when `--max-parallel auto` (the default), from what is
 * measured, not guessed:
 *
 * - CPUs: `requestsPerCpu` per CPU the agent may use. bench:agent on 2 CPUs, 5 bursts of 50 concurrent ADDs
 *   through the shim, beside the Node skeleton (which runs all 50 at once): 2 at once took 1.7× the
 *   skeleton's time, 8 1.4×, 32 1.0-1.2×, while the agent's memory cgroup (its delegates counted) peaked at
 *   44, 56 and 94 MB: with the CPUs busy, more at once gains little and costs ~1.5 MB each.
 * - Memory: every request runs its delegates one at a time, so at most one delegate (and what it waits
 *   for: its IPAM plugin) per request. The largest peak of a delegate run seen so far (the spawner reports
 *   it) times the requests must fit in what the agent's memory limit leaves beside the agent itself, so
 *   that a burst of pods cannot get the agent OOM-killed with its delegates (they count against its limit).
 *   Until a run has been measured, and without a limit, only the CPUs bound it.
 */
export const requestsPerCpu = 4;

/** Of the memory limit, the part the agent and its delegates may plan for (the rest absorbs spikes). */
export const memoryHeadroom = 0.8;

export interface ParallelismInputs {
  /** CPUs the agent may use (os.availableParallelism()). */
  readonly cpus: number;
  /** The agent's memory limit (its cgroup's), undefined when it has none. */
  readonly memoryLimitBytes: number | undefined;
  /** What the agent itself (with its spawner) uses now. */
  readonly ownBytes: () => number;
}

import type { Exec } from '../lib/ports.ts';

export class Parallelism {
  private readonly inputs: ParallelismInputs;
  private largestRunBytes = 0;

  constructor(inputs: ParallelismInputs) {
    this.inputs = inputs;
  }

  /** The bound the CPUs alone give. */
  get byCpu(): number {
    return Math.max(1, Math.floor(this.inputs.cpus) * requestsPerCpu);
  }

  /** The largest delegate run measured so far (0: none yet). */
  get largestRunMiB(): number {
    return this.largestRunBytes / 2 ** 20;
  }

  /** Takes a delegate run's measured peak; true when it is the largest so far (the limit may drop). */
  observe(maxRssKiB: number | undefined): boolean {
    const bytes = (maxRssKiB ?? 0) * 1024;
    if (bytes <= this.largestRunBytes) return false;
    this.largestRunBytes = bytes;
    return true;
  }

  /** Requests to serve at once now: the CPUs' bound, lowered to what the memory limit allows. */
  limit(): number {
    const { memoryLimitBytes } = this.inputs;
    if (memoryLimitBytes === undefined || this.largestRunBytes === 0) return this.byCpu;
    const room = memoryLimitBytes * memoryHeadroom - this.inputs.ownBytes();
    return Math.max(1, Math.min(this.byCpu, Math.floor(room / this.largestRunBytes)));
  }
}

/**
 * `exec` whose runs' measured peaks feed `parallelism`; `apply` gets the new limit when it changes (after
 * a run larger than any before, and every 64 runs as the agent's own memory moves).
 */
export function adaptingExec(exec: Exec, parallelism: Parallelism, apply: (limit: number) => void): Exec {
  let runs = 0;
  let current = parallelism.limit();
  return {
    async run(request) {
      const result = await exec.run(request);
      if (parallelism.observe(result.maxRssKiB) || ++runs % 64 === 0) {
        const next = parallelism.limit();
        if (next !== current) {
          current = next;
          apply(next);
        }
      }
      return result;
    },
  };
}
