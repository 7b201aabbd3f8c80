/**
 * What `multinet doctor` finds: one finding per check of the install, of each node, each NAD, or one pod,
 * each saying what is wrong (or that it is fine) and what to do about it. The checks are pure functions of
 * what the API server holds (lib/doctor/cluster.ts, lib/doctor/pod.ts); the command gathers and prints.
 */

export type Severity = 'ok' | 'warning' | 'error';

export type Scope = 'install' | 'node' | 'nad' | 'pod';

export interface Finding {
  readonly scope: Scope;
  /** What it is about: "multinet/multinet-agent", a node's name, "namespace/name" of a NAD or pod. */
  readonly subject: string;
  /** The check: agent, report, config, shim, status, network, sandbox, ... */
  readonly check: string;
  readonly severity: Severity;
  readonly message: string;
  /** What to do, when something is wrong: commands to run, files to look at. */
  readonly fix?: string;
}

export interface Summary {
  readonly errors: number;
  readonly warnings: number;
  readonly ok: number;
}

export function summarize(findings: readonly Finding[]): Summary {
  const count = (severity: Severity): number => findings.filter((f) => f.severity === severity).length;
  return { errors: count('error'), warnings: count('warning'), ok: count('ok') };
}

/** Something is wrong (the command exits non-zero): an error, or a warning. */
export function somethingWrong(summary: Summary): boolean {
  return summary.errors + summary.warnings > 0;
}

/** A finding's check, severity, message and fix, once its scope and subject are known. */
export type FindingArgs = [check: string, severity: Severity, message: string, fix?: string];

export function finding(
  scope: Scope,
  subject: string,
  ...[check, severity, message, fix]: FindingArgs
): Finding {
  return { scope, subject, check, severity, message, ...(fix ? { fix } : {}) };
}

/** "12 s", "5 min", "3 h", "2 d": how long ago, for messages. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
