import { Environment } from '@marcbachmann/cel-js';

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
    env = new Environment({
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
    envCache.set(key, env);
  }
  return env;
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
    throw new CelCompileError(`CEL syntax error in ${JSON.stringify(source)}: ${firstLine(e)}`);
  }
  const checked = program.check();
  if (!checked.valid)
    throw new CelCompileError(`CEL type error in ${JSON.stringify(source)}: ${firstLine(checked.error)}`);
  if (
    checked.type &&
    !ACCEPTED[kind].includes(checked.type) &&
    !(kind === 'map' && checked.type.startsWith('map'))
  ) {
    throw new CelCompileError(
      `CEL expression ${JSON.stringify(source)} gives ${checked.type}; a ${kind} is needed here`,
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
