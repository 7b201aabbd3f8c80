/** One problem found in user input, with the path of the offending field (JSON path or annotation index). */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/**
 * The one error type the domain core throws for bad input. Every problem names the field it is
 * about, so callers (CLI, webhook, controller conditions) can show "what to fix" without a stack.
 */
export class ValidationError extends Error {
  readonly problems: readonly Problem[];
  /** Things found on the way that are legal but suspicious (typos of field names, for example). */
  readonly warnings: readonly Problem[];

  constructor(problems: readonly Problem[], warnings: readonly Problem[] = []) {
    super(formatProblems(problems));
    this.name = 'ValidationError';
    this.problems = problems;
    this.warnings = warnings;
  }

  static single(path: string, message: string): ValidationError {
    return new ValidationError([{ path, message }]);
  }
}

export function formatProblem(problem: Problem): string {
  return problem.path ? `${problem.path}: ${problem.message}` : problem.message;
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map(formatProblem).join('; ');
}

/** Collects problems while walking a value; throws them all at once. */
export class ProblemList {
  readonly items: Problem[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  throwIfAny(warnings: readonly Problem[] = []): void {
    if (this.items.length > 0) throw new ValidationError(this.items, warnings);
  }
}

/** A printable message for anything thrown: the message of an Error, else its string form. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
