import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';

/** A file named in the config (htpasswd, groups), read whole; unreadable: a ConfigError naming it. */
export function readListFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '', `cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/**
 * The `name:rest` lines of an htpasswd-style file, with `#` comments and blank lines skipped
 * and each line's place (`line N`) for errors; a line without a name before `:` is refused
 * with `expected`.
 */
export function colonLines(
  text: string,
  file: string,
  expected: string,
): { name: string; rest: string; where: string }[] {
  const out: { name: string; rest: string; where: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ConfigError(file, where, expected);
    out.push({ name: line.slice(0, colon), rest: line.slice(colon + 1), where });
  });
  return out;
}
