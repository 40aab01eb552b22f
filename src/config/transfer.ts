import { Secret } from '../core/secret.js';
import type { Config } from './load.js';

/**
 * A validated Config as a JSON-safe value and back, for a primary to hand its workers the
 * configuration it validated: the workers then need neither the YAML parser nor the schema
 * (~12 MiB of each), and every worker applies exactly what the primary checked, never a file
 * that changed in between.
 *
 * Every value is tagged, so no key or string from the operator's YAML can pass for a tag:
 * `{ s }` a Secret, `{ u }` an undefined property (kept: `'key' in object` must answer the
 * same on both sides), `{ a }` an array, `{ o }` a plain object's entries, `{ p }` a
 * string, number, boolean or null. Anything else (a Map, a Date, a class) is refused when
 * encoding: the Config has none, and one added later must be taught here, not garbled.
 */
type Encoded =
  | { s: string }
  | { u: 1 }
  | { a: Encoded[] }
  | { o: [string, Encoded][] }
  | { p: string | number | boolean | null };

function encode(v: unknown, path: string): Encoded {
  if (v instanceof Secret) return { s: v.reveal() };
  if (v === undefined) return { u: 1 };
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return { p: v };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`config transfer: ${path} is not a finite number`);
    return { p: v };
  }
  if (Array.isArray(v)) return { a: v.map((x, i) => encode(x, `${path}[${i}]`)) };
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    return { o: Object.entries(v).map(([k, x]) => [k, encode(x, path ? `${path}.${k}` : k)]) };
  throw new TypeError(`config transfer: ${path || 'the config'} is a ${typeof v} it cannot carry`);
}

function decode(e: Encoded): unknown {
  if ('s' in e) return new Secret(e.s);
  if ('u' in e) return undefined;
  if ('p' in e) return e.p;
  if ('a' in e) return Object.freeze(e.a.map(decode));
  const out: Record<string, unknown> = {};
  for (const [k, x] of e.o) {
    // Own data properties, as the schema built them (`__proto__` included, as a plain key).
    Object.defineProperty(out, k, {
      value: decode(x),
      enumerable: true,
      writable: false,
      configurable: false,
    });
  }
  return Object.freeze(out);
}

/** The config as JSON text (Secrets revealed: for an IPC link to a process of this server only). */
export function encodeConfig(config: Readonly<Config>): string {
  return JSON.stringify(encode(config, ''));
}

/** The Config encodeConfig was given, frozen throughout, its Secrets wrapped again. */
export function decodeConfig(text: string): Readonly<Config> {
  return decode(JSON.parse(text) as Encoded) as Readonly<Config>;
}
