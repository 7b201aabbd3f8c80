/** What a component serves on /metrics (Prometheus text), as the benchmarks read it. */

/** One series: its name, labels and value. */
export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseMetrics(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return series;
}

/** The series of http://127.0.0.1:port/metrics. */
export async function scrapeMetrics(port: number): Promise<Series[]> {
  // A connection of its own: a kept-alive one the server closes as it idles out fails the scrape.
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
  return parseMetrics(await response.text());
}

/** The sum of the series named `name` whose labels include `labels`; undefined when none does. */
export function metricValue(
  series: readonly Series[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const matching = series.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? undefined : matching.reduce((total, s) => total + s.value, 0);
}
