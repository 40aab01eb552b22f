import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { Secret, safeEqual } from '../../../src/core/secret.js';
import { basicChallenge, bearerChallenge, errorBody } from '../../../src/protocol/responses.js';
import { createLogger } from '../../../src/util/log.js';

describe('Secret', () => {
  test('never prints its value through any route', () => {
    const s = new Secret('hunter2');
    assert.equal(s.reveal(), 'hunter2');
    assert.equal(s.length, 7);
    for (const shown of [
      String(s),
      `${s}`,
      JSON.stringify({ s }),
      inspect(s),
      inspect({ nested: { s } }),
      s.toString(),
    ]) {
      assert.ok(!shown.includes('hunter2'), shown);
    }
  });

  test('a logger given a Secret prints ***', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.info('x', { password: new Secret('hunter2') });
    const text = createLogger({ write: (l) => lines.push(l), format: 'text' });
    text.info('y', { password: new Secret('hunter2') });
    assert.equal(lines.length, 2);
    for (const l of lines) assert.ok(!l.includes('hunter2') && l.includes('***'), l);
  });
});

describe('safeEqual', () => {
  test('equal and unequal strings, including prefixes and unicode', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('abc', ''), false);
    assert.equal(safeEqual('pässwörd', 'pässwörd'), true);
    assert.equal(safeEqual('pässwörd', 'passwörd'), false);
  });
});

describe('logger', () => {
  test('level filter, child fields, JSON lines', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('hidden');
    log.child({ req: 1 }).warn('shown', { a: 'b' });
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.level, 'warn');
    assert.equal(rec.msg, 'shown');
    assert.equal(rec.req, 1);
    assert.equal(rec.a, 'b');
    assert.equal(log.enabled('debug'), false);
    assert.equal(log.enabled('error'), true);
  });
});

describe('registry responses', () => {
  test('errorBody', () => {
    assert.deepEqual(JSON.parse(errorBody('UNAUTHORIZED', 'nope')), {
      errors: [{ code: 'UNAUTHORIZED', message: 'nope' }],
    });
    assert.deepEqual(JSON.parse(errorBody('DENIED', 'x', { a: 1 })), {
      errors: [{ code: 'DENIED', message: 'x', detail: { a: 1 } }],
    });
  });

  test('challenges quote and escape their parameters', () => {
    assert.equal(basicChallenge('purser'), 'Basic realm="purser"');
    assert.equal(basicChallenge('a"b\\c'), 'Basic realm="a\\"b\\\\c"');
    assert.equal(
      bearerChallenge({
        realm: 'http://h/token',
        service: 'svc',
        scopes: [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }],
        error: 'insufficient_scope',
      }),
      'Bearer realm="http://h/token",service="svc",scope="repository:a:pull,push",error="insufficient_scope"',
    );
    assert.equal(bearerChallenge({ realm: 'r', service: 's' }), 'Bearer realm="r",service="s"');
  });
});
