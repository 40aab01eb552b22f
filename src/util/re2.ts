import type { RE2JS } from 're2js';
import { lazyModule } from './lazy-module.js';

const re2js = lazyModule<typeof import('re2js')>('re2js');

/**
 * Regular expressions with RE2 semantics, matched in time linear in the input, for every
 * regex Purser evaluates on request data (CEL `matches`, ACL `/regex/` patterns): a
 * backtracking engine lets one hostile claim or repository name block the event loop.
 * RE2 has no backreferences or lookaround; such patterns are refused when compiled.
 */
export class RegexSyntaxError extends Error {
  override name = 'RegexSyntaxError';
}

/** Longer patterns are refused: compiling costs time and memory proportional to the size. */
export const MAX_PATTERN_LENGTH = 4096;

/**
 * Matching costs up to (program size × input length) steps, and a short pattern can make a
 * big program (`.{1000}` is 1,002 instructions): bigger programs are refused.
 */
export const MAX_PROGRAM_SIZE = 5000;

/** Compiles `source` with RE2 syntax; throws RegexSyntaxError naming the problem. */
export function compileRe2(source: string): RE2JS {
  if (source.length > MAX_PATTERN_LENGTH)
    throw new RegexSyntaxError(`regular expression longer than ${MAX_PATTERN_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = re2js().RE2JS.compile(source);
  } catch (e) {
    // re2js messages quote only the offending fragment of the pattern.
    throw new RegexSyntaxError(e instanceof Error ? e.message : String(e));
  }
  const size = (re.re2().prog as { numInst?: () => number } | undefined)?.numInst?.();
  if (size === undefined) throw new RegexSyntaxError('cannot size the compiled regular expression');
  if (size > MAX_PROGRAM_SIZE)
    throw new RegexSyntaxError(
      `regular expression too large (${size} instructions compiled, at most ${MAX_PROGRAM_SIZE})`,
    );
  return re;
}

/**
 * Compiled patterns by source, bounded: at most `maxEntries` patterns of at most
 * MAX_PATTERN_LENGTH characters each, so at most maxEntries × 4 KiB of sources (and the
 * programs compiled from them, proportional in size). The oldest entry makes room.
 */
export class Re2Cache {
  readonly #m = new Map<string, RE2JS>();
  readonly #max: number;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#m.size;
  }

  get(source: string): RE2JS {
    let re = this.#m.get(source);
    if (re) return re;
    re = compileRe2(source);
    if (this.#m.size >= this.#max) {
      const oldest = this.#m.keys().next().value;
      if (oldest !== undefined) this.#m.delete(oldest);
    }
    this.#m.set(source, re);
    return re;
  }
}
