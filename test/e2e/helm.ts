/**
 * helm and kubectl from the control-plane harness's build (~/.cache/multinet/bin), run as child
 * processes with a private helm home, plus the chart's rendered objects parsed from YAML.
 */
import { execFile } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { repoRoot } from '../../dev/netns/local-node.ts';
import { binariesIn, defaultCacheDir } from '../../dev/binaries.ts';

export const chartDir = join(repoRoot, 'charts', 'multinet');

const bin = binariesIn(join(defaultCacheDir(process.env, homedir()), 'bin'));
/** helm's cache, config and data, away from the user's own (a local chart needs no repositories). */
const helmHome = join(tmpdir(), 'multinet-test-helm-home');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
        },
        maxBuffer: 32 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function orThrow(what: string, result: RunResult): string {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stderr}`);
  return result.stdout;
}

/** Runs helm (`values` go to `--values -` on stdin); resolves with its outcome whatever the exit code. */
export function helmRun(args: readonly string[], values?: object): Promise<RunResult> {
  return values === undefined
    ? run(bin.helm, args)
    : run(bin.helm, [...args, '--values', '-'], JSON.stringify(values));
}

/** Runs helm and returns stdout; throws with stderr on failure. */
export async function helm(args: readonly string[], values?: object): Promise<string> {
  return orThrow(`helm ${args.slice(0, 2).join(' ')}`, await helmRun(args, values));
}

/** Runs kubectl with a kubeconfig and optional stdin. */
export function kubectl(kubeconfig: string, args: readonly string[], input?: string): Promise<RunResult> {
  return run(bin.kubectl, ['--kubeconfig', kubeconfig, ...args], input);
}

/** The documents of a multi-document YAML stream (empty ones dropped). */
export function parseObjects(text: string): KubeObject[] {
  return yaml.loadAll(text).filter((o): o is KubeObject => typeof o === 'object' && o !== null);
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  readonly extraArgs?: readonly string[];
}

/** `helm template` of the chart with these values; throws with helm's message when it fails. */
export async function renderChart(values: object = {}, options: RenderOptions = {}): Promise<KubeObject[]> {
  const text = await helm(
    [
      'template',
      options.release ?? 'multinet',
      chartDir,
      '--namespace',
      options.namespace ?? 'multinet',
      ...(options.extraArgs ?? []),
    ],
    values,
  );
  return parseObjects(text);
}

/** The one object of this kind (and name); throws when there is none. */
export function findObject(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among the rendered objects`);
  return found;
}
