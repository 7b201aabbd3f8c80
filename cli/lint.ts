/**
 * `multinet lint`: the domain core's checks from the command line, so a NAD or an annotation can be
 * checked before it reaches a cluster.
 *   multinet lint nad [--json] FILE...|-          NetworkAttachmentDefinitions (YAML/JSON, multi-document)
 *   multinet lint config [--json] FILE...|-       raw CNI configuration files (.conf/.conflist)
 *   multinet lint annotation [--namespace NS] VALUE|-   the k8s.v1.cni.cncf.io/networks value
 */
import { networksAnnotation } from '../lib/annotations/keys.ts';
import { toJsonElement } from '../lib/annotations/networks.ts';
import { planPodNetworks, type PodNetworkPolicy } from '../lib/pod-networks.ts';
import { validateCniConfig } from '../lib/cni/config.ts';
import { ValidationError, errorMessage, formatProblem, type Problem } from '../lib/errors.ts';
import { parseManifests } from '../lib/k8s/manifests.ts';
import { nadKind, validateNad } from '../lib/nad.ts';
import { isObject } from '../lib/safe-json.ts';
import { ExitCode, UsageError, type CliIo } from './io.ts';
import { parseOptions } from './options.ts';

export const lintUsage = `Usage:
  multinet lint nad [--json] FILE...        check NetworkAttachmentDefinitions ("-" reads stdin)
  multinet lint config [--json] FILE...     check CNI configuration files (.conf, .conflist)
  multinet lint annotation [--namespace NS] VALUE
                                            check a k8s.v1.cni.cncf.io/networks value ("-" reads stdin);
                                            prints the normalized selection elements as JSON
Exit status: 0 all valid, 1 a problem was found, 2 usage error or unreadable input.`;

/** The outcome for one checked object, as printed by --json. */
export interface LintReport {
  file: string;
  name: string;
  namespace?: string;
  valid: boolean;
  problems: Problem[];
  warnings: Problem[];
}

function problemsOf(err: unknown): Problem[] {
  if (err instanceof ValidationError) return [...err.problems];
  return [{ path: '', message: errorMessage(err) }];
}

function reportFor(
  file: string,
  name: string,
  check: () => { namespace?: string; warnings: readonly Problem[] },
): LintReport {
  try {
    const { namespace, warnings } = check();
    return {
      file,
      name,
      ...(namespace ? { namespace } : {}),
      valid: true,
      problems: [],
      warnings: [...warnings],
    };
  } catch (err) {
    return {
      file,
      name,
      valid: false,
      problems: problemsOf(err),
      warnings: err instanceof ValidationError ? [...err.warnings] : [],
    };
  }
}

function lintNadText(file: string, text: string): LintReport[] {
  let documents;
  try {
    documents = parseManifests(text);
  } catch (err) {
    return [{ file, name: '-', valid: false, problems: problemsOf(err), warnings: [] }];
  }
  const nads = documents.filter((d) => d.object.kind === nadKind);
  if (nads.length === 0) {
    const kinds = documents.map((d) => (typeof d.object.kind === 'string' ? d.object.kind : '(no kind)'));
    return [
      {
        file,
        name: '-',
        valid: false,
        problems: [
          {
            path: 'kind',
            message: `no NetworkAttachmentDefinition found${kinds.length ? ` (found ${kinds.join(', ')})` : ' (the input is empty)'}`,
          },
        ],
        warnings: [],
      },
    ];
  }
  return nads.map(({ position, object }) => {
    const metadata = isObject(object.metadata) ? object.metadata : {};
    const name = typeof metadata.name === 'string' && metadata.name ? metadata.name : `document ${position}`;
    return reportFor(file, name, () => validateNad(object));
  });
}

function lintConfigText(file: string, text: string): LintReport[] {
  const name = file.split('/').pop() ?? file;
  return [reportFor(file, name, () => validateCniConfig(text))];
}

function printReports(reports: readonly LintReport[], json: boolean, io: CliIo): void {
  if (json) {
    io.stdout(`${JSON.stringify(reports, null, 2)}\n`);
    return;
  }
  for (const report of reports) {
    for (const problem of report.problems)
      io.stdout(`${report.file}: ${report.name}: ${formatProblem(problem)}\n`);
    for (const warning of report.warnings)
      io.stdout(`${report.file}: ${report.name}: warning: ${formatProblem(warning)}\n`);
  }
  const invalid = reports.filter((r) => !r.valid).length;
  io.stderr(`${reports.length} checked, ${invalid} invalid\n`);
}

async function lintFiles(
  args: readonly string[],
  io: CliIo,
  lintText: (file: string, text: string) => LintReport[],
): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('name at least one FILE, or "-" for standard input');
  const reports: LintReport[] = [];
  let unreadable = false;
  for (const file of positionals) {
    let text: string;
    try {
      text = await io.readInput(file);
    } catch (err) {
      io.stderr(`${file}: cannot read: ${errorMessage(err)}\n`);
      unreadable = true;
      continue;
    }
    reports.push(...lintText(file === '-' ? '<stdin>' : file, text));
  }
  printReports(reports, values.json === true, io);
  if (unreadable) return ExitCode.usage;
  return reports.every((r) => r.valid) ? ExitCode.ok : ExitCode.failed;
}

async function lintAnnotation(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { namespace: { type: 'string', short: 'n' } });
  if (positionals.length !== 1)
    throw new UsageError('give exactly one annotation VALUE (quote it), or "-" for standard input');
  const value = positionals[0] === '-' ? (await io.readInput('-')).replace(/\n$/, '') : positionals[0]!;
  // The plan the webhook and the agent work from, so lint accepts exactly what they accept.
  const plan = planPodNetworks(
    { [networksAnnotation]: value },
    values.namespace ?? 'default',
    lintPolicy,
    'eth0',
  );
  if (plan.problems.length > 0) {
    for (const problem of plan.problems) io.stderr(`${formatProblem(problem)}\n`);
    return ExitCode.failed;
  }
  const elements = plan.networks.flatMap((n) => (n.element ? [toJsonElement(n.element)] : []));
  io.stdout(`${JSON.stringify(elements, null, 2)}\n`);
  return ExitCode.ok;
}

/** No cluster policy: lint judges the annotation alone. */
const lintPolicy: PodNetworkPolicy = {
  namespaceIsolation: false,
  globalNamespaces: [],
  defaultNetworks: [],
  systemNamespaces: [],
};

export async function runLint(args: readonly string[], io: CliIo): Promise<number> {
  const [what, ...rest] = args;
  switch (what) {
    case 'nad':
      return lintFiles(rest, io, lintNadText);
    case 'config':
      return lintFiles(rest, io, lintConfigText);
    case 'annotation':
      return lintAnnotation(rest, io);
    default:
      throw new UsageError(
        what ? `unknown lint target ${JSON.stringify(what)}` : 'say what to lint: nad, config or annotation',
      );
  }
}
