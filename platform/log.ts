/**
 * The one logger factory: entry points create the root logger here and hand `log.child({...})` down.
 * JSON lines by default (for log collectors), or a readable text form for terminals.
 */
import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface LogOptions {
  readonly level: LogLevel;
  readonly format: 'json' | 'text';
  /** Also write to this file. */
  readonly file?: string | undefined;
  /** Where log lines go besides the file (the entry point passes process.stderr); none when undefined. */
  readonly stream?: NodeJS.WritableStream | undefined;
  readonly defaultMeta?: Record<string, string>;
}

export function createLogger(options: LogOptions): winston.Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const rest = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${rest}`;
          }),
        );
  const transports: winston.transport[] = [];
  if (options.stream) transports.push(new winston.transports.Stream({ stream: options.stream }));
  if (options.file) transports.push(new winston.transports.File({ filename: options.file }));
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  const logger = winston.createLogger({
    level: options.level,
    format,
    transports,
    defaultMeta: options.defaultMeta,
  });
  skipDisabledLevels(logger);
  return logger;
}

/**
 * winston formats every entry (its timestamp, its JSON) and only then lets the transports drop those
 * below the level: an agent at warn paid for each request's info line. The level methods of the logger
 * (which its children inherit) return at once for a disabled level.
 */
function skipDisabledLevels(logger: winston.Logger): void {
  for (const level of logLevels) {
    const write = logger[level];
    logger[level] = function (this: winston.Logger, ...args: Parameters<winston.LeveledLogMethod>) {
      return this.isLevelEnabled(level) ? write.apply(this, args) : this;
    } as winston.LeveledLogMethod;
  }
}
