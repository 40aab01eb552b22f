import type { Environment } from '@marcbachmann/cel-js';
import { lazyModule } from '../util/lazy-module.js';
import { Re2Cache } from '../util/re2.js';
import { shownExpression } from '../util/redact.js';

const celJs = lazyModule<typeof import('@marcbachmann/cel-js')>('@marcbachmann/cel-js');

/**
 * CEL expressions in the configuration (ACL `when`, provider `account`/`when`/`labels`).
 * Every expression is parsed and type-checked when the config loads; a request only
 * evaluates. Variables: `identity`, `claims`, `request` (each a map).
 */
export type CelVariables = 'identity' | 'claims' | 'request';

export class CelCompileError extends Error {
  override name = 'CelCompileError';
}

export class CelEvalError extends Error {
  override name = 'CelEvalError';
}

const envCache = new Map<string, Environment>();
function environment(vars: readonly CelVariables[]): Environment {
  const key = vars.join(',');
  let env = envCache.get(key);
  if (!env) {
    env = new (celJs().Environment)({
      homogeneousAggregateLiterals: false,
      limits: {
        maxAstNodes: 2000,
        maxDepth: 50,
        maxListElements: 200,
        maxMapEntries: 200,
        maxCallArguments: 16,
      },
    });
    for (const v of vars) env.registerVariable(v, 'map');
    env.registerFunction(`string.${RE2_MATCHES}(string): bool`, re2Matches);
    // The global form of the CEL standard, which cel-js lacks: RE2 from the start.
    env.registerFunction('matches(string, string): bool', re2Matches);
    envCache.set(key, env);
  }
  return env;
}

/**
 * CEL defines `matches` as RE2, but cel-js runs it on V8's backtracking RegExp, where
 * `claims.ref.matches("^(a+)+$")` takes exponential time in an attacker-chosen claim. cel-js
 * can neither replace nor remove a built-in overload, so every `x.matches(re)` call of a
 * parsed expression is renamed to this function before the type check binds it.
 */
const RE2_MATCHES = 'purserRe2Matches';
// Patterns built at run time (`x.matches(claims.re)`) must not grow the cache without bound.
const regexCache = new Re2Cache(256);

function re2Matches(s: string, pattern: string): boolean {
  let re: ReturnType<Re2Cache['get']>;
  try {
    re = regexCache.get(pattern);
  } catch {
    // The pattern may come from a claim: name the problem, not the pattern (nor a fragment).
    throw new Error('matches(): the pattern is not a valid RE2 regular expression, or is too large');
  }
  return re.test(s);
}

interface AstLike {
  op: string;
  args: unknown;
  readonly meta?: { alternate?: unknown; macro?: unknown };
}

const isAst = (v: unknown): v is AstLike =>
  v !== null && typeof v === 'object' && typeof (v as AstLike).op === 'string' && 'args' in v;

/**
 * Renames every method call `matches` (macro expansions included) to RE2_MATCHES, walking
 * every AST node reachable from the root whatever its op, and compiles literal patterns now
 * so that a pattern RE2 refuses fails the config load. Throws CelCompileError.
 */
function routeMatchesToRe2(root: unknown, source: string): void {
  let routed = 0;
  const seen = new Set<object>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
      return;
    }
    if (isAst(v)) {
      const args = v.args;
      if ((v.op === 'rcall' || v.op === 'call') && Array.isArray(args) && args[0] === 'matches') {
        if (v.op === 'rcall') args[0] = RE2_MATCHES;
        routed++;
        const patternArg: unknown = v.op === 'rcall' ? args[2]?.[0] : args[1]?.[1];
        if (isAst(patternArg) && patternArg.op === 'value' && typeof patternArg.args === 'string') {
          try {
            regexCache.get(patternArg.args);
          } catch (e) {
            throw new CelCompileError(
              `CEL expression ${JSON.stringify(shownExpression(source))}: matches(): ${(e as Error).message}`,
            );
          }
        }
      }
      visit(args);
      visit(v.meta?.alternate);
      visit(v.meta?.macro);
      return;
    }
    // Plain objects, such as a comprehension's args ({ iterable, step, … }).
    if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) visit(x);
  };
  visit(root);
  // Fail closed if a cel-js upgrade changed the AST's shape: a `.matches(` the walk did not
  // find would run on the backtracking engine.
  if (routed === 0 && /\bmatches\s*\(/.test(source))
    throw new CelCompileError(
      `CEL expression ${JSON.stringify(shownExpression(source))}: cannot route matches() to RE2 (unexpected cel-js AST)`,
    );
}

/**
 * JSON numbers that are integers become CEL ints (BigInt) so `claims.run_number == 5`
 * compares as users expect; everything else passes through.
 */
const converted = new WeakMap<object, unknown>();

/** toCelValue for a claims object, converted once and remembered (claims are never mutated). */
export function celClaims(claims: object): unknown {
  let v = converted.get(claims);
  if (v === undefined) {
    v = toCelValue(claims);
    converted.set(claims, v);
  }
  return v;
}

export function toCelValue(v: unknown, depth = 0): unknown {
  if (depth > 32) return null;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map((x) => toCelValue(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCelValue(x, depth + 1);
    return out;
  }
  return v;
}

export type CelResultKind = 'bool' | 'string' | 'map';

export interface CelProgram<T> {
  readonly source: string;
  /** Evaluates; throws CelEvalError on a runtime error or a result of the wrong type. */
  run(context: Partial<Record<CelVariables, unknown>>): T;
}

const ACCEPTED: Record<CelResultKind, string[]> = {
  bool: ['bool', 'dyn'],
  string: ['string', 'dyn'],
  map: ['dyn'],
};

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

export function compileCel(source: string, vars: readonly CelVariables[], kind: 'bool'): CelProgram<boolean>;
export function compileCel(source: string, vars: readonly CelVariables[], kind: 'string'): CelProgram<string>;
export function compileCel(
  source: string,
  vars: readonly CelVariables[],
  kind: CelResultKind,
): CelProgram<unknown> {
  const env = environment(vars);
  let program: ReturnType<Environment['parse']>;
  try {
    program = env.parse(source);
  } catch (e) {
    throw new CelCompileError(
      `CEL syntax error in ${JSON.stringify(shownExpression(source))}: ${firstLine(e)}`,
    );
  }
  routeMatchesToRe2(program.ast, source);
  const checked = program.check();
  if (!checked.valid)
    throw new CelCompileError(
      `CEL type error in ${JSON.stringify(shownExpression(source))}: ${firstLine(checked.error)}`,
    );
  if (
    checked.type &&
    !ACCEPTED[kind].includes(checked.type) &&
    !(kind === 'map' && checked.type.startsWith('map'))
  ) {
    throw new CelCompileError(
      `CEL expression ${JSON.stringify(shownExpression(source))} gives ${checked.type}; a ${kind} is needed here`,
    );
  }
  return {
    source,
    run(context) {
      let out: unknown;
      try {
        out = program(context);
      } catch (e) {
        throw new CelEvalError(firstLine(e));
      }
      if (kind === 'bool' && typeof out !== 'boolean')
        throw new CelEvalError(`expected a bool, got ${typeof out}`);
      if (kind === 'string' && typeof out !== 'string')
        throw new CelEvalError(`expected a string, got ${typeof out}`);
      return out;
    },
  };
}
