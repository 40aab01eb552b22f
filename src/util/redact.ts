/**
 * Config values end up in error messages and log lines, and a `${file:…}` or `${env:…}`
 * reference can put a private key or a secret where a name or a path was expected. Values
 * that look like key material or a secret are replaced by a description of their shape.
 */
const PEM_RE = /-----BEGIN [A-Z0-9 ]+-----/;

/** Longer values are not shown: a name, path or URL an operator needs to see is shorter. */
export const MAX_SHOWN_LENGTH = 200;

/** True when `s` contains a PEM block header or several lines: key material, not a name. */
export function looksLikeKeyMaterial(s: string): boolean {
  return PEM_RE.test(s) || /[\r\n]/.test(s);
}

/** `s` itself when it is safe to print, else `<N characters, not shown>`. */
export function shown(s: string): string {
  if (looksLikeKeyMaterial(s)) return `<${s.length} characters that look like key material, not shown>`;
  if (s.length > MAX_SHOWN_LENGTH) return `<${s.length} characters, not shown>`;
  return s;
}

/**
 * For expressions and patterns, which may span lines and run long: shown unless they hold a
 * PEM block or exceed `max` characters.
 */
export function shownExpression(s: string, max = 1000): string {
  if (PEM_RE.test(s)) return `<${s.length} characters that look like key material, not shown>`;
  if (s.length > max) return `<${s.length} characters, not shown>`;
  return s;
}
