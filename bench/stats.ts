/** Order statistics the benchmarks report: nearest-rank percentiles of a sample. */

/** The nearest-rank p-th percentile (0 < p ≤ 100) of a non-empty sample. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
