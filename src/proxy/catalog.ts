import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { PurserError, RegistryRefusal } from '../core/errors.js';
import { isRepositoryName } from '../protocol/scope.js';
import { type QueryPairs, queryValues } from './go-query.js';

/**
 * The proxy's `/v2/_catalog`: only the repositories the caller may pull, paginated as
 * distribution 2.8 paginates (registry/handlers/catalog.go, checked against 2.8.2 here):
 * `n` is read with strconv.Atoi, a value it cannot parse or a negative one means "up to the
 * maximum", more than the maximum is 400 PAGINATION_NUMBER_INVALID, 0 is an empty page;
 * `last` is exclusive; a `Link: </v2/_catalog?last=X&n=N>; rel="next"` header (other query
 * parameters dropped, values QueryEscape'd) says there may be more.
 *
 * Upstream pages are read one after another until `n` permitted names are collected, the
 * upstream ends, or `maxPages` pages were read: the work per request is bounded, and memory
 * is one upstream page plus the answer, whatever the size of the catalog.
 */

/** The largest `n` (distribution's default `catalog.maxentries`). */
export const CATALOG_MAX_ENTRIES = 1000;
/** Names asked of the upstream per page (under any upstream's maxentries in practice). */
export const UPSTREAM_PAGE_SIZE = 100;
/** Upstream pages read at most per request: 5,000 names examined. */
export const MAX_UPSTREAM_PAGES = 50;
/** A `last` longer than this is refused (repository names have at most 255 characters). */
const MAX_LAST = 1024;

/** One upstream page: names in order, and whether the upstream said there are more (Link). */
export interface UpstreamPage {
  names: readonly unknown[];
  more: boolean;
}

export interface CatalogSource {
  /** The upstream's catalog page after `last` (exclusive; undefined: from the start). */
  fetchPage(last: string | undefined, n: number): Promise<UpstreamPage>;
  /** For each name, whether the caller may pull it. */
  permitted(names: readonly string[]): Promise<boolean[]>;
}

export interface CatalogRequest {
  n: number;
  /** The real repository name to continue after (a sealed cursor already opened). */
  last: string | undefined;
}

export interface CatalogAnswer {
  repositories: string[];
  /** The `Link` header's value, when there may be more. */
  link: string | undefined;
}

/** Go's strconv.Atoi on a 64-bit platform: undefined where it returns an error. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) return undefined;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/**
 * A page boundary at a name the caller may not see is sent as a sealed cursor (`~…`,
 * AES-256-GCM under a key derived from the signing key): the next page starts there, and
 * the hidden name is not disclosed. No repository name starts with `~`.
 */
export class CursorSeal {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }

  seal(name: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([c.update(name, 'utf8'), c.final()]);
    return `~${Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url')}`;
  }

  open(cursor: string): string | undefined {
    const raw = Buffer.from(cursor.slice(1), 'base64url');
    if (raw.length < 29) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(raw.length - 16));
      const name = Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
      return isRepositoryName(name) ? name : undefined;
    } catch {
      return undefined;
    }
  }
}

/** `n` and `last` as distribution reads them (the first value of each), or a refusal. */
export function parseCatalogQuery(query: QueryPairs, seal: CursorSeal): CatalogRequest {
  const rawN = queryValues(query, 'n')[0] ?? '';
  const parsed = atoi(rawN);
  let n = CATALOG_MAX_ENTRIES;
  if (parsed !== undefined && parsed >= 0) {
    if (parsed > CATALOG_MAX_ENTRIES)
      throw new RegistryRefusal(
        'INVALID_REQUEST',
        'PAGINATION_NUMBER_INVALID',
        `invalid number of results requested: n is at most ${CATALOG_MAX_ENTRIES}`,
      );
    n = parsed;
  }
  let last = queryValues(query, 'last')[0] || undefined;
  if (last !== undefined) {
    if (last.length > MAX_LAST)
      throw new RegistryRefusal(
        'INVALID_REQUEST',
        'UNSUPPORTED',
        `invalid last: over ${MAX_LAST} characters`,
      );
    if (last.startsWith('~')) {
      const opened = seal.open(last);
      if (opened === undefined)
        throw new RegistryRefusal(
          'INVALID_REQUEST',
          'UNSUPPORTED',
          'invalid last: not a cursor of this server (or its signing key changed)',
        );
      last = opened;
    }
  }
  return { n, last };
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** distribution's createLinkEntry: the catalog path with only `last` and `n`, sorted. */
export function catalogLink(last: string, n: number): string {
  return `</v2/_catalog?last=${queryEscape(last)}&n=${n}>; rel="next"`;
}

export async function filteredCatalog(
  req: CatalogRequest,
  source: CatalogSource,
  seal: CursorSeal,
  limits: { pageSize?: number; maxPages?: number } = {},
): Promise<CatalogAnswer> {
  const pageSize = limits.pageSize ?? UPSTREAM_PAGE_SIZE;
  const maxPages = limits.maxPages ?? MAX_UPSTREAM_PAGES;
  const out: string[] = [];
  if (req.n === 0) return { repositories: out, link: undefined };
  let cursor = req.last;
  // Whether the upstream may hold names after `cursor`.
  let more = true;
  for (let page = 0; page < maxPages && more; page++) {
    const got = await source.fetchPage(cursor, pageSize);
    // Names after the cursor only, in order: a page that does not move forward ends the walk,
    // so an upstream that repeats itself cannot loop the proxy.
    const names: string[] = [];
    for (const v of got.names) {
      if (typeof v !== 'string' || (cursor !== undefined && v <= cursor)) continue;
      if (names.length > 0 && v <= names[names.length - 1]!) continue;
      names.push(v);
    }
    more = got.more && names.length > 0;
    const valid = names.filter(isRepositoryName);
    const allowed = valid.length > 0 ? await source.permitted(valid) : [];
    const ok = new Set(valid.filter((_, i) => allowed[i] === true));
    for (const [i, name] of names.entries()) {
      cursor = name;
      if (!ok.has(name)) continue;
      out.push(name);
      if (out.length === req.n) {
        const moreHere = i < names.length - 1 || got.more;
        return { repositories: out, link: moreHere ? catalogLink(name, req.n) : undefined };
      }
    }
  }
  // The upstream ended, or the page budget did; at a hidden name, continue from a sealed cursor.
  if (!more || cursor === undefined) return { repositories: out, link: undefined };
  const next = cursor === out[out.length - 1] ? cursor : seal.seal(cursor);
  return { repositories: out, link: catalogLink(next, req.n) };
}

/** An upstream catalog page body is read up to this (100 names of 255 characters fit 30 times). */
const MAX_PAGE_BYTES = 1024 * 1024;

/** One page of the upstream's own catalog, with the proxy's upstream credentials. */
export async function fetchCatalogPage(
  pool: Dispatcher,
  last: string | undefined,
  n: number,
  authorization: string | undefined,
): Promise<UpstreamPage> {
  const path = `/v2/_catalog?n=${n}${last === undefined ? '' : `&last=${queryEscape(last)}`}`;
  let res: Dispatcher.ResponseData;
  try {
    res = await pool.request({
      path,
      method: 'GET',
      headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  } catch {
    throw new PurserError('UNAVAILABLE', 'upstream registry unavailable: cannot read its catalog');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_PAGE_BYTES) break;
      chunks.push(chunk);
    }
  } catch {
    throw new PurserError('UNAVAILABLE', 'upstream registry unavailable: cannot read its catalog');
  } finally {
    if (size > MAX_PAGE_BYTES) res.body.destroy();
  }
  if (res.statusCode !== 200)
    throw new PurserError('UNAVAILABLE', `upstream catalog answered HTTP ${res.statusCode}`);
  let body: unknown;
  try {
    if (size > MAX_PAGE_BYTES) throw new Error('too large');
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new PurserError('UNAVAILABLE', 'upstream catalog answered an unreadable page');
  }
  const names = (body as { repositories?: unknown } | null)?.repositories;
  if (!Array.isArray(names))
    throw new PurserError('UNAVAILABLE', 'upstream catalog answered an unreadable page');
  return { names, more: res.headers.link !== undefined };
}
