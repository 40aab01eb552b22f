// The one writer of error answers: registry body always, RFC 6749 §5.2 fields for POST,
// the headers each error asks for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChallengeError,
  Denied,
  ERROR_CODES,
  PurserError,
  TooManyAttempts,
} from '../../../src/core/errors.js';
import { errorAnswer } from '../../../src/http/error-response.js';

const parse = (body: string) => JSON.parse(body) as Record<string, unknown>;

test('GET answers carry the registry body only; POST answers add error and error_description', () => {
  const e = new PurserError('INVALID_SCOPE', 'invalid scope "x": expected type:name:actions');
  const get = errorAnswer(e, { realm: 'purser', oauth: false });
  assert.equal(get.status, 400);
  assert.deepEqual(parse(get.body), { errors: [{ code: 'INVALID_SCOPE', message: e.message }] });
  const post = errorAnswer(e, { realm: 'purser', oauth: true });
  assert.deepEqual(parse(post.body), {
    errors: [{ code: 'INVALID_SCOPE', message: e.message }],
    error: 'invalid_scope',
    error_description: e.message,
  });
});

test('a 401 carries the Basic challenge of the realm; a ChallengeError its own', () => {
  const basic = errorAnswer(new PurserError('UNAUTHORIZED', 'no'), { realm: 'my "realm"', oauth: true });
  assert.equal(basic.headers['www-authenticate'], 'Basic realm="my \\"realm\\""');
  assert.equal(parse(basic.body).error, 'invalid_grant');
  const own = errorAnswer(new ChallengeError('use SSO', 'Bearer realm="https://sso"'), {
    realm: 'purser',
    oauth: false,
  });
  assert.equal(own.status, 401);
  assert.equal(own.headers['www-authenticate'], 'Bearer realm="https://sso"');
});

test('TooManyAttempts says when to retry; Denied is a 403 without a challenge', () => {
  const t = errorAnswer(new TooManyAttempts(42), { realm: 'purser', oauth: true });
  assert.equal(t.status, 429);
  assert.equal(t.headers['retry-after'], '42');
  assert.equal(parse(t.body).error, 'temporarily_unavailable');
  assert.equal(parse(t.body).error_description, 'too many failed logins; retry in 42 s');
  const d = errorAnswer(new Denied('account disabled'), { realm: 'purser', oauth: false });
  assert.equal(d.status, 403);
  assert.equal(d.headers['www-authenticate'], undefined);
});

test('every code has a status its class agrees with, and 4xx/5xx only', () => {
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.equal(new PurserError(code as keyof typeof ERROR_CODES, 'm').status, info.status);
    assert.ok(info.status >= 400 && info.status < 600, code);
  }
});
