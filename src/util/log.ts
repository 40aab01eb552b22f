/** A small structured logger: one JSON object per line on stdout (or `key=value` text). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'text';
  write?: (line: string) => void;
}

function textValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/**
 * Lines for stdout are batched: written at the end of the current event-loop turn (or once
 * 64 KiB have gathered), so a burst of requests costs one write syscall, and a line still
 * leaves within the turn that produced it. Flushed synchronously when the process exits.
 */
let pending: string[] = [];
let pendingBytes = 0;
let scheduled = false;
// Hooked on the first line, not at import: importing the library registers no process handler.
let exitHooked = false;
function flushStdout(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const chunk = pending.join('');
  pending = [];
  pendingBytes = 0;
  process.stdout.write(chunk);
}
function writeStdout(line: string): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', flushStdout);
  }
  pending.push(line);
  pendingBytes += line.length;
  if (pendingBytes >= 64 * 1024) flushStdout();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flushStdout);
  }
}
export function createLogger(opts: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? writeStdout;
  const format = opts.format ?? 'json';
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec = { time: new Date().toISOString(), level, msg, ...bound, ...fields };
    if (format === 'json') {
      write(`${JSON.stringify(rec)}\n`);
    } else {
      const { time, level: l, msg: m, ...rest } = rec;
      const kv = Object.entries(rest)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(' ');
      write(`${time} ${l.toUpperCase().padEnd(5)} ${m}${kv ? ` ${kv}` : ''}\n`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(opts, { ...bound, ...fields }),
    enabled: (level) => ORDER[level] >= min,
  };
}

export const silentLogger: Logger = createLogger({ write: () => {}, level: 'error' });
