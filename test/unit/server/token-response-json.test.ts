import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { tokenResponseJson } from '../../../src/server/token-response-json.js';
import type { TokenResponse } from '../../../src/server/token-service.js';
import { isoTimeMemo } from '../../../src/util/iso-time.js';

// Built as TokenService builds it: the fields in this order, refresh_token added last.
function response(token: string, expiresIn: number, issuedAt: string, refresh?: string): TokenResponse {
  const r: TokenResponse = { token, access_token: token, expires_in: expiresIn, issued_at: issuedAt };
  if (refresh !== undefined) r.refresh_token = refresh;
  return r;
}

const JWS = 'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaS1ib3QifQ.c2lnbmF0dXJlLV8';

describe('tokenResponseJson', () => {
  it('writes what JSON.stringify writes, with and without a refresh token', () => {
    for (const r of [
      response(JWS, 300, '2026-12-02T01:02:03.000Z'),
      response(JWS, 300, '2026-12-02T01:02:03.000Z', `${JWS}x`),
      response('', 0, ''),
    ]) {
      assert.equal(tokenResponseJson(r), JSON.stringify(r));
      assert.deepEqual(JSON.parse(tokenResponseJson(r)), r);
    }
  });

  it('writes what JSON.stringify writes for any strings and numbers, plain or needing escapes', () => {
    // Plain strings take the fast path, anything else the general one.
    const text = fc.oneof(fc.stringMatching(/^[\w.:-]*$/), fc.string({ unit: 'binary' }));
    fc.assert(
      fc.property(
        text,
        fc.oneof(fc.integer(), fc.double()),
        text,
        fc.option(text, { nil: undefined }),
        (token, expiresIn, issuedAt, refresh) => {
          const r = response(token, expiresIn, issuedAt, refresh);
          assert.equal(tokenResponseJson(r), JSON.stringify(r));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('does not take access_token for the token when they differ', () => {
    const r = { ...response(JWS, 300, '2026-12-02T01:02:03.000Z'), access_token: 'other' };
    assert.equal(tokenResponseJson(r), JSON.stringify(r));
  });

  it('keeps a quote, a backslash or a control character in a token from breaking out', () => {
    for (const bad of ['a"b', 'a\\b', 'a\nb', 'a\u2028b', 'x","expires_in":1e9,"y":"']) {
      const r = response(bad, 300, '2026-12-02T01:02:03.000Z', bad);
      assert.deepEqual(JSON.parse(tokenResponseJson(r)), r);
    }
  });
});

describe('isoTimeMemo', () => {
  it('answers as toISOString does, for the same instant and for a new one', () => {
    const iso = isoTimeMemo();
    for (const ms of [0, 1_764_633_600_000, 1_764_633_600_000, 1_764_633_600_001, -1, 8.64e15]) {
      assert.equal(iso(ms), new Date(ms).toISOString());
    }
  });

  it('throws for an invalid time, as toISOString does, and then answers the next', () => {
    const iso = isoTimeMemo();
    assert.equal(iso(5000), '1970-01-01T00:00:05.000Z');
    assert.throws(() => iso(Number.NaN), RangeError);
    assert.throws(() => iso(8.64e15 + 1), RangeError);
    assert.equal(iso(5000), '1970-01-01T00:00:05.000Z');
  });
});
