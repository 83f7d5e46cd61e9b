// A small structured logger: one line per event, to stderr, in one of two formats.
//   text (default), logfmt-ish, for people first and grep second; anything that would
//   break the one-line-per-event rule (newlines, quotes, spaces in values) is quoted:
//     2026-11-22T06:00:00.000Z warn connection closed conn=7 reason="missed heartbeats"
//   json, one object per line for log shippers (Vector, Fluent Bit, Loki, Elastic):
//     {"time":"2026-11-22T06:00:00.000Z","level":"warn","msg":"connection closed","conn":7,"reason":"missed heartbeats"}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
  /** A logger that adds fields to every line (an event's own fields win on a clash). */
  child(fields: object): Logger;
}

export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export type LogFormat = 'text' | 'json';

export const logFormats: readonly LogFormat[] = ['text', 'json'];

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: Infinity };

export function parseLogLevel(s: string): LogLevel {
  const level = s.trim().toLowerCase();
  if ((logLevels as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`invalid log level '${s}' (expected ${logLevels.join(', ')})`);
}

export function parseLogFormat(s: string): LogFormat {
  const format = s.trim().toLowerCase();
  if ((logFormats as readonly string[]).includes(format)) return format as LogFormat;
  throw new Error(`invalid log format '${s}' (expected ${logFormats.join(', ')})`);
}

const writeStderr = (line: string): void => {
  process.stderr.write(line + '\n');
};

type Formatter = (time: Date, level: string, msg: string, fields: object) => string;

export function createLogger(level: LogLevel, sink: (line: string) => void = writeStderr, format: LogFormat = 'text'): Logger {
  return makeLogger(severity[level], sink, format === 'json' ? formatJsonLine : formatLine, {});
}

function makeLogger(threshold: number, sink: (line: string) => void, format: Formatter, base: object): Logger {
  const log = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: object): void => {
    if (severity[level] < threshold) return;
    sink(format(new Date(), level, msg, fields ? { ...base, ...fields } : base));
  };
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    child: (fields) => makeLogger(threshold, sink, format, { ...base, ...fields }),
  };
}

export function formatLine(time: Date, level: string, msg: string, fields: object): string {
  let line = `${time.toISOString()} ${level} ${oneLine(msg)}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    line += ` ${formatKey(key)}=${formatValue(value)}`;
  }
  return line;
}

const RESERVED_JSON_KEYS = new Set(['time', 'level', 'msg']);

/**
 * One JSON object per line: time, level and msg first, then the fields. A field
 * named like one of those three is written as field_<name> so it cannot hide them;
 * errors become their text, bigints strings (JSON has no 64-bit integers).
 */
export function formatJsonLine(time: Date, level: string, msg: string, fields: object): string {
  const out: Record<string, unknown> = { time: time.toISOString(), level, msg };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[RESERVED_JSON_KEYS.has(key) ? `field_${key}` : key] = value instanceof Error ? errorText(value) : value;
  }
  try {
    return JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? errorText(v) : v));
  } catch {
    // A circular field: keep the line, lose the field's structure.
    return JSON.stringify({ time: out.time, level, msg, fields: String(fields) });
  }
}

/** Bare when it cannot be mistaken for syntax, JSON-quoted otherwise. */
const bare = /^[^\s"=\\]+$/u;

function oneLine(msg: string): string {
  return msg.replace(/[\r\n]+/g, (m) => JSON.stringify(m).slice(1, -1));
}

function formatKey(key: string): string {
  return bare.test(key) ? key : JSON.stringify(key);
}

function formatValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return bare.test(value) && !/[\p{Cc}]/u.test(value) ? value : JSON.stringify(value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'symbol':
    case 'function':
      return JSON.stringify(String(value));
    default:
      if (value === null) return 'null';
      if (value instanceof Error) return formatValue(errorText(value));
      return toJson(value); // compact JSON has no newlines; one token unless strings inside have spaces
  }
}

function errorText(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message || err.name;
}

function toJson(value: unknown): string {
  try {
    const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return json ?? JSON.stringify(String(value));
  } catch {
    return JSON.stringify(String(value)); // circular structures
  }
}
