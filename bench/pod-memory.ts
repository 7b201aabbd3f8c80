/**
 * A pod's memory as its cgroup counts it (cgroup v1, the kubelet's cgroupfs driver: <cgroupRoot>/kubepods/
 * <qos>/pod<uid>), so what its processes start (an agent's delegates) is counted with them: the peak
 * since the pod's cgroup was made, and the anonymous memory (rss) now.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PodMemory {
  readonly peakMb: number;
  readonly rssMb: number;
}

export function podMemory(
  podsCgroupRoot: string,
  pod: { readonly uid: string; readonly qosClass?: string | undefined },
): PodMemory {
  const qos = (pod.qosClass ?? 'Burstable').toLowerCase();
  const dir = join(
    '/sys/fs/cgroup/memory',
    podsCgroupRoot,
    'kubepods',
    ...(qos === 'guaranteed' ? [] : [qos]),
    `pod${pod.uid}`,
  );
  const peak = Number(readFileSync(join(dir, 'memory.max_usage_in_bytes'), 'utf8'));
  const rss = Number(/^total_rss (\d+)$/m.exec(readFileSync(join(dir, 'memory.stat'), 'utf8'))?.[1] ?? NaN);
  const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
  return { peakMb: mb(peak), rssMb: mb(rss) };
}
