/**
 * What a chaos experiment counts: agent crashes (the agent or handler died or threw on its own),
 * leaks (interfaces, leases, cache records or files left behind), hangs (requests never answered),
 * requests sent, and a description of each problem (the first few are kept, for the report).
 */
export interface Tally {
  crashes: number;
  leaks: number;
  hangs: number;
  requests: number;
  readonly problems: string[];
}

export function tally(): Tally {
  return { crashes: 0, leaks: 0, hangs: 0, requests: 0, problems: [] };
}

/** Records a problem of a kind; keeps the first 20 descriptions. */
export function note(t: Tally, kind: 'crashes' | 'leaks' | 'hangs', problem: string): void {
  t[kind]++;
  if (t.problems.length < 20) t.problems.push(`${kind}: ${problem}`);
}

export function add(into: Tally, from: Tally): Tally {
  into.crashes += from.crashes;
  into.leaks += from.leaks;
  into.hangs += from.hangs;
  into.requests += from.requests;
  for (const p of from.problems) if (into.problems.length < 20) into.problems.push(p);
  return into;
}

/** The campaign's last line, with figures after the counts (rss_mb_after=...). */
export function resultLine(t: Tally, figures: Readonly<Record<string, string | number>> = {}): string {
  const extra = Object.entries(figures).map(([key, value]) => ` ${key}=${value}`);
  return `RESULT crashes=${t.crashes} leaks=${t.leaks} hangs=${t.hangs} requests=${t.requests}${extra.join('')}`;
}

/** Settles with `promise`, or with `onTimeout()` after ms (a bound on a hang, never a synchronization). */
export function within<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Runs `one` count times, `parallel` at a time (a batch waits for its slowest). */
export async function inBatches(count: number, parallel: number, one: () => Promise<void>): Promise<void> {
  for (let sent = 0; sent < count;) {
    const batch: Array<Promise<void>> = [];
    for (; batch.length < parallel && sent < count; sent++) batch.push(one());
    await Promise.all(batch);
  }
}
