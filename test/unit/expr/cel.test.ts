// CEL conditions: compile-time checks (syntax, types, result kind), runtime errors, values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CelCompileError, CelEvalError, compileCel, toCelValue } from '../../../src/expr/cel.js';

const ALL = ['identity', 'claims', 'request'] as const;

const claims = toCelValue({
  repository: 'acme/app',
  repository_owner: 'acme',
  ref: 'refs/heads/main',
  run_number: 5,
  run_attempt: 1,
  ratio: 1.5,
  groups: ['dev', 'ops'],
  ref_protected: true,
  'kubernetes.io': { namespace: 'team-a', serviceaccount: { name: 'builder' }, pod: { name: 'p-1' } },
  nested: { deep: { value: 'x' } },
});
const request = {
  type: 'repository',
  name: 'acme/app',
  actions: ['pull'],
  service: 'registry.test',
  ip: '127.0.0.1',
};
const identity = { account: 'acme/app', provider: 'github', labels: { owner: 'acme' } };
const ctx = { claims, request, identity };

function bool(src: string, c: Record<string, unknown> = ctx): boolean {
  return compileCel(src, ALL, 'bool').run(c);
}

describe('CEL compile errors (start-up errors)', () => {
  const compileError = (re: RegExp) => (e: unknown) => e instanceof CelCompileError && re.test(e.message);

  test('syntax errors', () => {
    for (const src of [
      'claims.ref == ',
      'claims.ref === "x"',
      '(claims.ref',
      'claims.ref == "a" &&',
      '"unterminated',
    ]) {
      assert.throws(() => compileCel(src, ALL, 'bool'), compileError(/syntax error/), src);
    }
  });

  test('the message quotes the expression', () => {
    assert.throws(() => compileCel('claims.ref == ', ALL, 'bool'), compileError(/"claims\.ref == "/));
  });

  test('type errors the checker catches', () => {
    assert.throws(() => compileCel('1 + "a" == "1a"', ALL, 'bool'), compileError(/type error/));
    assert.throws(() => compileCel('claims.x + 1 == "a"', ALL, 'bool'), compileError(/type error/));
    assert.throws(() => compileCel('true && "yes"', ALL, 'bool'), compileError(/type error|bool/));
  });

  test('unknown variables are errors; each context only has its own variables', () => {
    assert.throws(() => compileCel('foo == 1', ALL, 'bool'), compileError(/type error.*foo|foo/));
    // Provider expressions see only `claims`.
    assert.throws(() => compileCel('request.name == "x"', ['claims'], 'bool'), CelCompileError);
    assert.doesNotThrow(() => compileCel('claims.sub == "x"', ['claims'], 'bool'));
  });

  test('a `when` must give a bool; an `account` must give a string', () => {
    assert.throws(() => compileCel('"main"', ALL, 'bool'), compileError(/gives string; a bool is needed/));
    assert.throws(() => compileCel('1', ALL, 'bool'), compileError(/gives int; a bool is needed/));
    assert.throws(() => compileCel('[1, 2]', ALL, 'bool'), compileError(/a bool is needed/));
    assert.throws(
      () => compileCel('1 + 2', ['claims'], 'string'),
      compileError(/gives int; a string is needed/),
    );
    assert.throws(
      () => compileCel('claims.a == "x"', ['claims'], 'string'),
      compileError(/gives bool; a string is needed/),
    );
    // dyn (a claim) is accepted at compile time and checked when it runs.
    assert.doesNotThrow(() => compileCel('claims.repository', ['claims'], 'string'));
    assert.doesNotThrow(() => compileCel('"gh:" + claims.repository', ['claims'], 'string'));
  });
});

describe('CEL runtime', () => {
  test('a missing claim is a CelEvalError, not a crash', () => {
    const p = compileCel('claims.missing == "x"', ALL, 'bool');
    assert.throws(() => p.run(ctx), CelEvalError);
    const q = compileCel('claims.nested.nope.value == "x"', ALL, 'bool');
    assert.throws(() => q.run(ctx), CelEvalError);
  });

  test('other runtime errors become CelEvalError', () => {
    assert.throws(() => bool('int("x") == 1'), CelEvalError);
    assert.throws(() => bool('1 / (claims.run_number - 5) == 1'), CelEvalError);
    assert.throws(() => bool('claims.groups[5] == "x"'), CelEvalError);
  });

  test('a dyn result of the wrong type is a CelEvalError', () => {
    assert.throws(
      () => compileCel('claims.repository', ALL, 'bool').run(ctx),
      (e: unknown) => e instanceof CelEvalError && /expected a bool/.test(e.message),
    );
    assert.throws(
      () => compileCel('claims.run_number', ['claims'], 'string').run(ctx),
      (e: unknown) => e instanceof CelEvalError && /expected a string/.test(e.message),
    );
    assert.throws(() => compileCel('claims["kubernetes.io"]', ['claims'], 'string').run(ctx), CelEvalError);
  });

  test('has() guards a missing claim', () => {
    assert.equal(bool('has(claims.missing) && claims.missing == "x"'), false);
    assert.equal(bool('!has(claims.missing) || claims.missing == "x"'), true);
    assert.equal(bool('has(claims.ref)'), true);
  });

  test('missing variables in the context are errors, not matches', () => {
    const p = compileCel('claims.ref == "refs/heads/main"', ALL, 'bool');
    assert.throws(() => p.run({ request, identity }), CelEvalError);
  });
});

describe('CEL values from JSON claims', () => {
  test('integers from JSON compare with CEL ints', () => {
    assert.equal(bool('claims.run_number == 5'), true);
    assert.equal(bool('claims.run_number > 4 && claims.run_number < 6'), true);
    assert.equal(bool('claims.run_number == 6'), false);
    assert.equal(bool('claims.run_attempt + 1 == 2'), true);
  });

  test('non-integers stay doubles', () => {
    assert.equal(bool('claims.ratio == 1.5'), true);
    assert.equal(bool('claims.ratio > 1.0'), true);
  });

  test('toCelValue turns safe integers into BigInt, deeply', () => {
    const v = toCelValue({ a: 1, b: [2, { c: 3 }], d: 1.5, e: 'x', f: null, g: true, h: 2 ** 60 }) as Record<
      string,
      unknown
    >;
    assert.equal(v.a, 1n);
    assert.deepEqual(v.b, [2n, { c: 3n }]);
    assert.equal(v.d, 1.5);
    assert.equal(v.e, 'x');
    assert.equal(v.f, null);
    assert.equal(v.g, true);
    // Beyond 2^53 a JSON number is not exact: it stays a double.
    assert.equal(typeof v.h, 'number');
  });

  test('toCelValue bounds nesting depth', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = { x: deep };
    assert.doesNotThrow(() => toCelValue(deep));
  });

  test('dotted claim keys by index: claims["kubernetes.io"].namespace', () => {
    assert.equal(bool('claims["kubernetes.io"].namespace == "team-a"'), true);
    assert.equal(bool('claims["kubernetes.io"].serviceaccount.name == "builder"'), true);
    assert.equal(bool('claims["kubernetes.io"].namespace == "team-b"'), false);
    const account = compileCel(
      'claims["kubernetes.io"].namespace + "/" + claims["kubernetes.io"].serviceaccount.name',
      ['claims'],
      'string',
    );
    assert.equal(account.run({ claims }), 'team-a/builder');
  });

  test('lists: request.actions == ["pull"], in, exists', () => {
    assert.equal(bool('request.actions == ["pull"]'), true);
    assert.equal(
      bool('request.actions == ["pull"]', { ...ctx, request: { ...request, actions: ['pull', 'push'] } }),
      false,
    );
    assert.equal(bool('"ops" in claims.groups'), true);
    assert.equal(bool('claims.groups.exists(g, g.startsWith("de"))'), true);
    assert.equal(bool('size(claims.groups) == 2'), true);
  });

  test('the spec example: main branch or pull only', () => {
    const p = compileCel('claims.ref == "refs/heads/main" || request.actions == ["pull"]', ALL, 'bool');
    const feature = toCelValue({ ref: 'refs/heads/feature' });
    assert.equal(p.run(ctx), true);
    assert.equal(p.run({ ...ctx, claims: feature }), true);
    assert.equal(
      p.run({ ...ctx, claims: feature, request: { ...request, actions: ['pull', 'push'] } }),
      false,
    );
    assert.equal(p.run({ ...ctx, request: { ...request, actions: ['pull', 'push'] } }), true);
  });

  test('string functions and identity', () => {
    assert.equal(bool('claims.ref.startsWith("refs/heads/")'), true);
    assert.equal(bool('claims.repository.matches("^acme/[a-z]+$")'), true);
    assert.equal(
      bool('identity.provider == "github" && identity.labels.owner == claims.repository_owner'),
      true,
    );
    assert.equal(bool('claims.ref_protected'), true);
  });

  test('a compiled program is reusable and keeps its source', () => {
    const p = compileCel('claims.run_number == 5', ALL, 'bool');
    assert.equal(p.source, 'claims.run_number == 5');
    for (let i = 0; i < 3; i++) assert.equal(p.run(ctx), true);
    assert.equal(p.run({ ...ctx, claims: toCelValue({ run_number: 4 }) }), false);
  });

  test('limits: an oversized expression is refused at compile time', () => {
    const big = Array.from({ length: 3000 }, (_, i) => `claims.a == "${i}"`).join(' || ');
    assert.throws(() => compileCel(big, ALL, 'bool'), CelCompileError);
  });
});
