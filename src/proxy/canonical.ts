import { splitTarget } from '../protocol/target.js';
import { goUnescape, parseGoQuery, type QueryPairs } from './go-query.js';

export { splitTarget };

/** A request target reduced to what the registry routes and reads. */
export type Target = { ok: true; path: string; query: QueryPairs } | { ok: false; message: string };

/**
 * Decodes the path as Go's net/http does (the registry's router matches the decoded path)
 * and refuses what would make the decoded path differ in shape from the raw one: an escape
 * that decodes to `/` or `%`, and empty or dot segments (the registry redirects those to the
 * cleaned path). The decoded path is what is checked and, re-encoded, what is forwarded.
 */
export function canonicalTarget(url: string): Target {
  const { path: raw, rawQuery } = splitTarget(url);
  if (/%(?:2f|25)/i.test(raw)) return { ok: false, message: "an encoded '/' or '%' in the path" };
  const path = goUnescape(raw, false);
  if (path === undefined) return { ok: false, message: 'a malformed %-escape in the path' };
  if (!path.startsWith('/')) return { ok: false, message: 'the path must start with /' };
  if (/\/\/|\/\.\.?(?:\/|$)/.test(path)) return { ok: false, message: 'an empty or dot segment in the path' };
  return { ok: true, path, query: parseGoQuery(rawQuery) };
}

/** The decoded path as the registry must receive it: every byte outside RFC 3986 pchar escaped. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%3A/g, ':').replace(/%40/g, '@'))
    .join('/');
}
