import { memoryHeadroom, Parallelism, requestsPerCpu } from './parallelism.ts';

const MiB = 2 ** 20;

describe('Parallelism', () => {
  it('serves requestsPerCpu per CPU while no run is measured or there is no memory limit', () => {
    const unlimited = new Parallelism({ cpus: 2, memoryLimitBytes: undefined, ownBytes: () => 80 * MiB });
    expect(unlimited.limit()).toBe(2 * requestsPerCpu);
    expect(unlimited.observe(400 * 1024)).toBe(true);
    expect(unlimited.limit()).toBe(2 * requestsPerCpu);
    const limited = new Parallelism({ cpus: 64, memoryLimitBytes: 512 * MiB, ownBytes: () => 80 * MiB });
    expect(limited.limit()).toBe(64 * requestsPerCpu);
  });

  it('lowers it to what the memory limit holds beside the agent, at the largest delegate run seen', () => {
    let own = 80 * MiB;
    const p = new Parallelism({ cpus: 64, memoryLimitBytes: 512 * MiB, ownBytes: () => own });
    const room = 512 * MiB * memoryHeadroom - own;
    expect(p.observe(4 * 1024)).toBe(true); // a 4 MiB plugin
    expect(p.limit()).toBe(Math.min(256, Math.floor(room / (4 * MiB))));
    expect(p.observe(2 * 1024)).toBe(false); // smaller: nothing changes
    expect(p.observe(40 * 1024)).toBe(true); // a 40 MiB plugin (Calico's size)
    expect(p.limit()).toBe(Math.floor(room / (40 * MiB)));
    expect(p.largestRunMiB).toBe(40);
    own = 500 * MiB; // the agent itself left no room: still one at a time
    expect(p.limit()).toBe(1);
  });
});
