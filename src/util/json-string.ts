/**
 * Printable ASCII but `"` and `\\`: the strings whose JSON form is the string in quotes.
 * Linear (a single character class).
 */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** PLAIN.test(s); a loop for short strings, where the regex call costs more than the scan. */
function isPlain(s: string): boolean {
  if (s.length > 32) return PLAIN.test(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * `JSON.stringify(s)`, byte for byte, without the engine's serializer for plain strings: it
 * checks every character for an escape, which for a kilobyte token costs ten times the regex.
 */
export function jsonString(s: string): string {
  return isPlain(s) ? `"${s}"` : JSON.stringify(s);
}
