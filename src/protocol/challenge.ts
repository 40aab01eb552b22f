/**
 * The parameters of a `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3), names lower-cased;
 * undefined for any other scheme. Used on registries' answers (the proxy's upstream, doctor's
 * live checks), never on a caller's request.
 */
export function parseBearerChallenge(h: string): Record<string, string> | undefined {
  if (!/^bearer\s/i.test(h)) return undefined;
  const out: Record<string, string> = {};
  // Unambiguous alternation (a quoted-string is plain characters or one escaped pair): linear.
  for (const m of h.slice(7).matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
    out[m[1]!.toLowerCase()] = m[2]!.replace(/\\(.)/g, '$1');
  return out;
}
