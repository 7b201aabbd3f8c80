/** A build script's output as it comes: whole lines passed on to a log, the last ones kept for an error. */
export class OutputLines {
  private readonly kept: string[] = [];
  private partial = '';
  private readonly log: (line: string) => void;
  private readonly keep: number;

  constructor(log: (line: string) => void, keep = 30) {
    this.log = log;
    this.keep = keep;
  }

  /** A chunk of the stream: each line it completes goes to the log. */
  readonly write = (chunk: Buffer): void => {
    const lines = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  };

  /** The stream ended: a last line without its newline goes to the log too. */
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** The last lines seen (at most `keep`). */
  get tail(): readonly string[] {
    return this.kept;
  }

  private line(line: string): void {
    this.log(line);
    this.kept.push(line);
    if (this.kept.length > this.keep) this.kept.shift();
  }
}
