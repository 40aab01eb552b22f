/** A small structured logger: one JSON object per line on stdout (or `key=value` text). */
import { isoTimeMemo } from './iso-time.js';
import { jsonString as quote } from './json-string.js';

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

/**
 * Limits on what one log line carries: values often come from the caller (a username, a
 * scope, a path), and a 64 KiB username logged per refused request would let anyone fill
 * the disk. Truncation happens here, for every call site; an `error` field (a stack trace,
 * the operator's own) may be longer.
 */
export const LOG_LIMITS = { string: 256, error: 4096, items: 16, depth: 4 } as const;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(+${s.length - max} chars)`;
}

export function bounded(v: unknown, depth = 0, max: number = LOG_LIMITS.string): unknown {
  if (typeof v === 'string') return clip(v, max);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= LOG_LIMITS.depth) return '[…]';
  if (Array.isArray(v)) {
    const out = v.slice(0, LOG_LIMITS.items).map((x) => bounded(x, depth + 1));
    if (v.length > LOG_LIMITS.items) out.push(`…(+${v.length - LOG_LIMITS.items} more)`);
    return out;
  }
  // Objects with their own JSON form (a Secret prints ***, a Date its ISO string).
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    const json = JSON.stringify(v);
    return json === undefined ? undefined : bounded(JSON.parse(json), depth);
  }
  const entries = Object.entries(v);
  const out: Record<string, unknown> = {};
  for (const [k, x] of entries.slice(0, LOG_LIMITS.items)) out[clip(k, 64)] = bounded(x, depth + 1);
  if (entries.length > LOG_LIMITS.items) out['…'] = `+${entries.length - LOG_LIMITS.items} more`;
  return out;
}

function boundedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[clip(k, 64)] = bounded(v, 1, k === 'error' ? LOG_LIMITS.error : LOG_LIMITS.string);
  }
  return out;
}

/**
 * `,"key":` for each field name seen, so a line does not quote its keys again: names come
 * from the code that logs (a fixed, small set), bounded all the same.
 */
const keyPrefixes = new Map<string, string>();
const MAX_KEY_PREFIXES = 1024;
function keyPrefix(k: string): string {
  let p = keyPrefixes.get(k);
  if (p === undefined) {
    p = `,${quote(k)}:`;
    if (keyPrefixes.size < MAX_KEY_PREFIXES) keyPrefixes.set(k, p);
  }
  return p;
}

/**
 * `JSON.stringify(bounded(v, depth, max))`, built directly, without the copy `bounded`
 * makes; undefined for a value it leaves to the general path (objects with toJSON, bigint).
 * Concatenated, not joined from an array of pieces: an access-log line at 10,000 lines/s
 * spent most of its ~13 µs in pieces, JSON.stringify calls and their garbage.
 */
function boundedJson(v: unknown, depth: number, max: number): string | undefined {
  switch (typeof v) {
    case 'string':
      return quote(v.length <= max ? v : clip(v, max));
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (v === null) return 'null';
  if (depth >= LOG_LIMITS.depth) return '"[…]"';
  if (Array.isArray(v)) {
    let out = '[';
    const n = Math.min(v.length, LOG_LIMITS.items);
    for (let i = 0; i < n; i++) {
      const x: unknown = v[i];
      let item: string | undefined = 'null';
      if (x !== undefined && typeof x !== 'function' && typeof x !== 'symbol') {
        item = boundedJson(x, depth + 1, LOG_LIMITS.string);
        if (item === undefined) return undefined;
      }
      out += i > 0 ? `,${item}` : item;
    }
    if (v.length > LOG_LIMITS.items)
      out += `${n > 0 ? ',' : ''}${quote(`…(+${v.length - LOG_LIMITS.items} more)`)}`;
    return `${out}]`;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return undefined;
  const keys = Object.keys(v);
  if (keys.length > LOG_LIMITS.items) return undefined;
  let out = '{';
  for (const k of keys) {
    if (k.length > 64 || k === '…' || k === '__proto__') return undefined;
    const x: unknown = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    const item = boundedJson(x, depth + 1, LOG_LIMITS.string);
    if (item === undefined) return undefined;
    out += `${out.length > 1 ? ',' : ''}${quote(k)}:${item}`;
  }
  return `${out}}`;
}

/** `line` with `src`'s fields appended (`bound` given: fields it binds decline); undefined: declined. */
function appendFields(
  line: string,
  src: Record<string, unknown>,
  bound: Record<string, unknown> | undefined,
): string | undefined {
  let out = line;
  const keys = Object.keys(src);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === 'time' || k === 'level' || k === 'msg' || k === '__proto__' || k.length > 64) return undefined;
    // An index-like key would come first in the record object: the general path keeps that.
    if (k.charCodeAt(0) <= 57 && /^(0|[1-9]\d*)$/.test(k)) return undefined;
    if (bound !== undefined && Object.hasOwn(bound, k)) return undefined;
    const v = src[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    const json = boundedJson(v, 1, k === 'error' ? LOG_LIMITS.error : LOG_LIMITS.string);
    if (json === undefined) return undefined;
    out += keyPrefix(k) + json;
  }
  return out;
}

/**
 * The JSON line for a record, fields bounded: the fast path of `emit`, or undefined when the
 * record needs the general one (a field that shadows time/level/msg or a bound field, a
 * long key, a value with toJSON). `bound`: the logger's own fields, undefined when it binds none.
 */
export function fastJsonLine(
  time: string,
  level: string,
  msg: string,
  bound: Record<string, unknown> | undefined,
  fields: Record<string, unknown> | undefined,
): string | undefined {
  const start = `{"time":${quote(time)},"level":${quote(level)},"msg":${quote(msg)}`;
  let line = bound ? appendFields(start, bound, undefined) : start;
  if (line !== undefined && fields !== undefined) line = appendFields(line, fields, bound);
  return line === undefined ? undefined : `${line}}\n`;
}

function textValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/**
 * Lines for stdout are batched: written FLUSH_MS after the first line of a batch (or once
 * 64 KiB have gathered), so the lines of many requests cost one write syscall; flushed
 * synchronously when the process exits. A flush at the end of every event-loop turn (as
 * before) made a write per turn, and a busy server answers only a few requests per turn:
 * with stdout a file, 10 ms batches gave 1.03× the token requests at the info level
 * (bench/ab.js; bench/README.md, seventh scale-out stop). A pipe (a container's log) also
 * wakes its reader at every write. A line leaves at most 10 ms late.
 */
const FLUSH_MS = 10;
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
    setTimeout(flushStdout, FLUSH_MS).unref();
  }
}
// Lines of one millisecond share their timestamp: formatting one costs more than the rest of
// a short line.
const stampOf = isoTimeMemo();
const timestamp = (): string => stampOf(Date.now());

export function createLogger(opts: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? writeStdout;
  const format = opts.format ?? 'json';
  // A logger that binds nothing (the root one) has nothing to append or to be shadowed; its
  // fields are fixed when it is made, so this is decided once.
  const binds = Object.keys(bound).length > 0 ? bound : undefined;
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    if (format === 'json') {
      const line = fastJsonLine(timestamp(), level, clip(msg, LOG_LIMITS.string), binds, fields);
      if (line !== undefined) return write(line);
    }
    const rec = {
      time: timestamp(),
      level,
      msg: clip(msg, LOG_LIMITS.string),
      ...boundedFields({ ...bound, ...fields }),
    };
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
