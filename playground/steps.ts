/**
 * How the walkthroughs show their work: a step is announced (→), and ends with ✓ and its time or ✗ and
 * why; a kubectl command is printed as typed, with its output indented below it.
 */
import { errorMessage } from '../lib/errors.ts';

export type Step = <T>(title: string, work: () => Promise<T>) => Promise<T>;

export function stepper(say: (line: string) => void): Step {
  return async <T>(title: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    say(`→ ${title}`);
    try {
      const value = await work();
      say(`✓ ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return value;
    } catch (err) {
      say(`✗ ${title}: ${errorMessage(err)}`);
      throw err;
    }
  };
}

export type RunKubectl = (
  args: readonly string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** kubectl shown as typed; `expectFailure` for what must be refused (it throws when kubectl disagrees). */
export function shownKubectl(
  say: (line: string) => void,
  run: RunKubectl,
): (args: readonly string[], expectFailure?: boolean) => Promise<string> {
  return async (args, expectFailure = false) => {
    say(`$ kubectl ${args.join(' ')}`);
    const out = await run(args);
    for (const line of `${out.stdout}${out.stderr}`.trimEnd().split('\n')) say(`  ${line}`);
    if (expectFailure ? out.code === 0 : out.code !== 0) {
      throw new Error(`kubectl ${args[0]} ${expectFailure ? 'succeeded' : `failed (exit ${out.code})`}`);
    }
    return out.stdout;
  };
}
