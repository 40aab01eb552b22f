// RFC 9112 §3.2.2: absolute-form, which a server MUST accept; the authority decides nothing.
const ABSOLUTE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;

/**
 * The path and raw query of an origin-form or absolute-form request target (Node hands
 * `http://host/v2/…` to the handler as is), neither decoded.
 */
export function splitTarget(url: string): { path: string; rawQuery: string } {
  let rest = url;
  const m = ABSOLUTE.exec(rest);
  if (m) {
    rest = rest.slice(m[0].length);
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, rawQuery: '' } : { path: rest.slice(0, q), rawQuery: rest.slice(q + 1) };
}
