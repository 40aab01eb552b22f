import type { Identity } from '../core/identity.js';
import { compileRe2, Re2Cache } from '../util/re2.js';
import { shownExpression } from '../util/redact.js';
import { checkPlaceholder, PLACEHOLDER_RE, resolvePlaceholder } from './placeholders.js';

/**
 * A compiled `match` value: a glob or a /regex/, maybe with placeholders. Both compile to
 * RE2 (util/re2.ts): matching is linear in the name, whatever the pattern, so a crafted
 * repository name or claim cannot make a rule like `/(a+)+b/` or `**a**a**a` backtrack.
 */
export interface Pattern {
  readonly source: string;
  test(value: string, identity: Identity): boolean;
}

// RE2 syntax characters (RE2 accepts an escape before any ASCII punctuation).
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Escapes a placeholder's value so it means only its own characters wherever it lands, even
 * inside a `[...]` class of a user's regex (where `-` would form a range): ASCII punctuation
 * gets a backslash, every other character that is not a letter, digit or `_` a `\x{…}`
 * escape; both are valid in and out of classes.
 */
const escapeValue = (s: string) =>
  s.replace(/[^A-Za-z0-9_]/gu, (c) =>
    /[!-/:-@[-`{-~]/.test(c) ? `\\${c}` : `\\x{${c.codePointAt(0)!.toString(16)}}`,
  );

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` also matches zero segments: `team/**/app` matches `team/app`.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else out += escapeRegex(c);
  }
  return out;
}

type Part = { literal: string } | { placeholder: string };

function splitPlaceholders(source: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER_RE)) {
    if (m.index > last) parts.push({ literal: source.slice(last, m.index) });
    parts.push({ placeholder: m[1]! });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push({ literal: source.slice(last) });
  return parts;
}

/**
 * Compiles a pattern. Throws an Error with a message for the config loader when the pattern
 * is invalid. Placeholder values are always escaped: a claim holding `*` or `.*` is matched
 * as those characters, so a claim can never widen a rule.
 */
export function compilePattern(source: string): Pattern {
  const isRegex = source.length >= 2 && source.startsWith('/') && source.endsWith('/');
  const body = isRegex ? source.slice(1, -1) : source;
  const parts = splitPlaceholders(body);
  for (const p of parts) {
    if ('placeholder' in p) {
      const err = checkPlaceholder(p.placeholder);
      if (err) throw new Error(err);
    }
  }
  const literalToRegex = isRegex ? (s: string) => s : globToRegex;
  const wrap = (re: string) => `^(?:${re})$`;
  const hasPlaceholders = parts.some((p) => 'placeholder' in p);

  const invalid = (e: unknown) =>
    new Error(`invalid regular expression ${shownExpression(source)} (RE2 syntax): ${(e as Error).message}`);
  // A plain name (the common case) needs no regex at all.
  if (!isRegex && !hasPlaceholders && !/[*?]/.test(body)) return { source, test: (value) => value === body };
  if (!hasPlaceholders) {
    let re: ReturnType<typeof compileRe2>;
    try {
      re = compileRe2(wrap(literalToRegex(body)));
    } catch (e) {
      throw invalid(e);
    }
    return { source, test: (value) => re.test(value) };
  }
  // Check the shape now with a harmless stand-in for every placeholder.
  try {
    compileRe2(wrap(parts.map((p) => ('literal' in p ? literalToRegex(p.literal) : 'x')).join('')));
  } catch (e) {
    throw invalid(e);
  }
  // One compiled pattern per distinct placeholder value, bounded (see Re2Cache).
  const cache = new Re2Cache(1000);
  return {
    source,
    test(value, identity) {
      let re = '';
      for (const p of parts) {
        if ('literal' in p) re += literalToRegex(p.literal);
        else {
          const v = resolvePlaceholder(p.placeholder, identity);
          if (v === undefined) return false;
          re += escapeValue(v);
        }
      }
      try {
        return cache.get(wrap(re)).test(value);
      } catch {
        // Only a value too long for a pattern gets here (the shape was checked at load
        // time, values are escaped): it does not match, as a missing value does not.
        return false;
      }
    },
  };
}
