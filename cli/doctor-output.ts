/**
 * How `multinet doctor` prints what it found: grouped by what it is about, one line per check with what to
 * do under it, a summary line last; colours on a terminal (not with NO_COLOR). `-o json` prints the same
 * findings as data instead (cli/doctor.ts).
 */
import type { PodDiagnosis } from '../lib/doctor/pod.ts';
import { plural, summarize, type Finding, type Severity, type Summary } from '../lib/doctor/report.ts';

export interface Style {
  readonly color: boolean;
}

const codes = { red: 31, green: 32, yellow: 33, bold: 1, dim: 2 } as const;

function paint(style: Style, code: keyof typeof codes, text: string): string {
  return style.color ? `\u001b[${codes[code]}m${text}\u001b[0m` : text;
}

const marks: Readonly<Record<Severity, { mark: string; color: keyof typeof codes }>> = {
  ok: { mark: '✓', color: 'green' },
  warning: { mark: '!', color: 'yellow' },
  error: { mark: '✗', color: 'red' },
};

function line(style: Style, f: Finding, label: string, width: number): string {
  const { mark, color } = marks[f.severity];
  const head = `  ${paint(style, color, mark)} ${label.padEnd(width)}  ${f.message}`;
  return f.fix ? `${head}\n  ${' '.repeat(width + 4)}${paint(style, 'dim', `fix: ${f.fix}`)}` : head;
}

function section(
  style: Style,
  title: string,
  findings: readonly Finding[],
  label: (f: Finding) => string,
): string[] {
  if (findings.length === 0) return [];
  const width = Math.max(...findings.map((f) => label(f).length));
  return [paint(style, 'bold', title), ...findings.map((f) => line(style, f, label(f), width))];
}

export function summaryLine(style: Style, summary: Summary, counted: string): string {
  if (summary.errors + summary.warnings === 0)
    return paint(style, 'green', `✓ no problems found (${counted})`);
  const parts = [
    ...(summary.errors > 0 ? [paint(style, 'red', plural(summary.errors, 'error'))] : []),
    ...(summary.warnings > 0 ? [paint(style, 'yellow', plural(summary.warnings, 'warning'))] : []),
  ];
  const mark = summary.errors > 0 ? paint(style, 'red', '✗') : paint(style, 'yellow', '!');
  return `${mark} ${parts.join(', ')} (${counted})`;
}

/** The cluster's findings: the install, each node, the NADs; then the summary line. */
export function renderCluster(style: Style, header: string, findings: readonly Finding[]): string {
  const nodes = [...new Set(findings.filter((f) => f.scope === 'node').map((f) => f.subject))];
  const nads = findings.filter((f) => f.scope === 'nad');
  const lines = [
    paint(style, 'bold', header),
    '',
    ...section(
      style,
      'install',
      findings.filter((f) => f.scope === 'install'),
      (f) => f.check,
    ),
    ...nodes.flatMap((node) =>
      section(
        style,
        `node ${node}`,
        findings.filter((f) => f.scope === 'node' && f.subject === node),
        (f) => f.check,
      ),
    ),
    ...section(style, 'NetworkAttachmentDefinitions', nads, (f) => f.subject),
    '',
    summaryLine(
      style,
      summarize(findings),
      `${plural(nodes.length, 'node')}, ${plural(nads.length, 'NetworkAttachmentDefinition')} checked`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

function age(time: string, now: number): string {
  const t = Date.parse(time);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** One pod: what it asked for, what it got, its Events, the checks and what to fix; the summary line. */
export function renderPod(style: Style, header: string, d: PodDiagnosis, now: number): string {
  const pod = d.pod;
  const asked =
    d.requested.length === 0
      ? ['  (no networks besides the default network)']
      : d.requested.map((r) => `  ${r.interface.padEnd(8)} ${r.network}   ${paint(style, 'dim', r.from)}`);
  const got =
    d.attached.length === 0
      ? ['  (no network-status)']
      : d.attached.map(
          (a) =>
            `  ${(a.interface ?? '?').padEnd(8)} ${a.name}${a.default ? ' (default)' : ''}   ${(a.ips ?? []).join(', ')}${a.mac ? `   ${a.mac}` : ''}`,
        );
  const events =
    d.events.length === 0
      ? ['  (none)']
      : d.events
          .slice(-10)
          .map(
            (e) =>
              `  ${age(e.time, now).padStart(4)}  ${paint(style, e.type === 'Warning' ? 'yellow' : 'dim', e.reason)}${e.count > 1 ? ` (x${e.count})` : ''}  ${e.message}`,
          );
  const lines = [
    paint(style, 'bold', header),
    `${pod.namespace}/${pod.name}: ${pod.phase}${pod.ready ? ', Ready' : ''}${pod.node ? ` on ${pod.node}` : ''}`,
    '',
    paint(style, 'bold', 'asked for'),
    ...asked,
    paint(style, 'bold', 'got (network-status)'),
    ...got,
    paint(style, 'bold', 'events'),
    ...events,
    ...section(style, 'checks', d.findings, (f) => f.check),
    '',
    summaryLine(style, summarize(d.findings), `pod ${pod.namespace}/${pod.name}`),
  ];
  return `${lines.join('\n')}\n`;
}
