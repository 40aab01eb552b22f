import type { Identity } from '../authn/identity.js';
import { checkPlaceholder, PLACEHOLDER_RE, resolvePlaceholder } from './placeholders.js';

/** A compiled `match` value: a glob or a /regex/, maybe with placeholders. */
export interface Pattern {
  readonly source: string;
  test(value: string, identity: Identity): boolean;
}

// Only syntax characters: in `u` mode escaping anything else (`-`, say) is an error.
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Escapes a placeholder's value so it means only its own characters wherever it lands, even
 * inside a `[...]` class of a user's regex (where `-` would form a range): every character
 * that is not a letter, digit or `_` becomes a `\u{…}` escape, valid in and out of classes.
 */
const escapeValue = (s: string) =>
  s.replace(/[^A-Za-z0-9_]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);

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

  if (!hasPlaceholders) {
    let re: RegExp;
    try {
      re = new RegExp(wrap(literalToRegex(body)), 'u');
    } catch (e) {
      throw new Error(`invalid regular expression ${source}: ${(e as Error).message}`);
    }
    return { source, test: (value) => re.test(value) };
  }
  // Check the shape now with a harmless stand-in for every placeholder.
  try {
    new RegExp(wrap(parts.map((p) => ('literal' in p ? literalToRegex(p.literal) : 'x')).join('')), 'u');
  } catch (e) {
    throw new Error(`invalid regular expression ${source}: ${(e as Error).message}`);
  }
  const cache = new Map<string, RegExp>();
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
      let compiled = cache.get(re);
      if (!compiled) {
        compiled = new RegExp(wrap(re), 'u');
        if (cache.size >= 1000) cache.clear();
        cache.set(re, compiled);
      }
      return compiled.test(value);
    },
  };
}
