/**
 * A query string parsed the way the registry (Go ≥ 1.17 `url.ParseQuery`) parses it, and
 * re-serialised so that Go reads back exactly these pairs and nothing else.
 */
export type QueryPairs = readonly (readonly [string, string])[];

const HEX = /^[0-9a-fA-F]{2}$/;

/**
 * Go's `QueryUnescape`/`PathUnescape`: `%XX` must be two hex digits (else undefined: Go
 * drops the pair, or refuses the path). `+` is a space in a query component only. Bytes that
 * are not UTF-8 become U+FFFD: the value is re-encoded before it is forwarded, so the
 * registry sees the value that was checked.
 */
export function goUnescape(s: string, plusIsSpace: boolean): string | undefined {
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!HEX.test(h)) return undefined;
      bytes.push(Number.parseInt(h, 16));
      i += 2;
    } else if (c === 0x2b && plusIsSpace) bytes.push(0x20);
    else if (c < 0x80) bytes.push(c);
    else for (const b of Buffer.from(s[i]!, 'latin1')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Go's `url.ParseQuery`: pairs split on `&`; a pair with `;` or a bad escape is dropped. */
export function parseGoQuery(raw: string): QueryPairs {
  const out: [string, string][] = [];
  for (const part of raw.split('&')) {
    if (part === '' || part.includes(';')) continue;
    const eq = part.indexOf('=');
    const k = goUnescape(eq < 0 ? part : part.slice(0, eq), true);
    if (k === undefined) continue;
    const v = goUnescape(eq < 0 ? '' : part.slice(eq + 1), true);
    if (v === undefined) continue;
    out.push([k, v]);
  }
  return out;
}

/** Every value of `key`, in order. */
export function queryValues(q: QueryPairs, key: string): string[] {
  return q.filter(([k]) => k === key).map(([, v]) => v);
}

/** The pairs as a query string (without `?`) that Go parses back into exactly these pairs. */
export function formatGoQuery(q: QueryPairs): string {
  return q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/**
 * True when Go's `r.FormValue` would read this request's body as form fields
 * (`ParseForm` for a urlencoded body, `ParseMultipartForm` for multipart/form-data; Go
 * lower-cases and trims the media type). A type that is not plain ASCII counts too: Go trims
 * Unicode spaces, and such a header has no legitimate use on the registry API.
 */
export function readsFormBody(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (/[^\x20-\x7e\t]/.test(contentType)) return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded' || type.startsWith('multipart/');
}
