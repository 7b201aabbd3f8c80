/**
 * How the walkthroughs show their work: a step is announced (→), and ends with ✓ and its time or ✗ and
 * why; a kubectl command is printed as typed, with its output indented below it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Resolves when the user stops the walkthrough (Ctrl-C); rejects when a component exits on its own. */
export function runUntilStopped(signal: AbortSignal, unexpectedExit: Promise<string>): Promise<void> {
  return Promise.race([
    new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    }),
    unexpectedExit.then((what) => {
      throw new Error(what);
    }),
  ]);
}

/** What a walkthrough's steps started, for the hand-over to the user. */
export interface WalkthroughUp {
  /** Where the admin kubeconfig is (written where the user asked, or the run's own). */
  readonly kubeconfig: string;
  /** Commands to try, printed under `export KUBECONFIG=…`. */
  readonly tryCommands: readonly string[];
  /** Rejects the run when a component exits on its own. */
  readonly unexpectedExit: Promise<string>;
  /** With --once, the last step instead of waiting for Ctrl-C (deleting what the steps made, say). */
  readonly onceStep: { readonly title: string; readonly work: () => Promise<unknown> };
}

/**
 * The frame of a walkthrough on real nodes: a work dir, the steps (`steps`), the hand-over (how to reach
 * the cluster, then Ctrl-C or --once's last step) and, whatever happened, the clean-up (`cleanUp`,
 * announced as `cleaning up (what)`). Resolves true when every step succeeded and it stopped cleanly.
 */
export async function runWalkthrough(
  options: { readonly say: (line: string) => void; readonly signal: AbortSignal; readonly once?: boolean },
  steps: (step: Step, work: string) => Promise<WalkthroughUp>,
  cleanUp: { readonly what: string; readonly stop: () => Promise<void> },
): Promise<boolean> {
  const { say, signal } = options;
  const step = stepper(say);
  const work = await mkdtemp(join(tmpdir(), 'multinet-playground-'));
  let ok = true;
  try {
    const up = await steps(step, work);
    say('');
    say(`  export KUBECONFIG=${up.kubeconfig}`);
    for (const command of up.tryCommands) say(`  ${command}`);
    if (options.once) {
      await step(up.onceStep.title, up.onceStep.work);
    } else {
      say('running; press Ctrl-C to stop everything and clean up');
      await runUntilStopped(signal, up.unexpectedExit);
    }
  } catch (err) {
    ok = false;
    if (!signal.aborted) say(`the playground stopped: ${errorMessage(err)}`);
  } finally {
    say(`cleaning up (${cleanUp.what})`);
    await cleanUp.stop().catch((err: unknown) => {
      ok = false;
      say(errorMessage(err));
    });
    await rm(work, { recursive: true, force: true });
  }
  return ok;
}
