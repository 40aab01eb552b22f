import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isPurserError } from '../../../src/core/errors.js';
import { formatScope } from '../../../src/protocol/scope.js';
import {
  parseBasicAuth,
  parseGetTokenRequest,
  parsePostTokenRequest,
} from '../../../src/protocol/token-request.js';
import { basic, purserError } from '../support.js';

const q = (s: string) => new URLSearchParams(s);

describe('parseBasicAuth', () => {
  test('no header or empty header: undefined', () => {
    assert.equal(parseBasicAuth(undefined), undefined);
    assert.equal(parseBasicAuth(''), undefined);
  });

  test('a well-formed header', () => {
    const c = parseBasicAuth(basic('alice', 's3cret'));
    assert.equal(c?.username, 'alice');
    assert.equal(c?.password.reveal(), 's3cret');
  });

  test('scheme is case-insensitive and surrounding spaces are tolerated', () => {
    const b64 = Buffer.from('alice:pw').toString('base64');
    assert.equal(parseBasicAuth(`basic ${b64}`)?.username, 'alice');
    assert.equal(parseBasicAuth(`BASIC   ${b64}  `)?.password.reveal(), 'pw');
  });

  test('the password may contain colons and be empty; UTF-8 is decoded', () => {
    assert.equal(parseBasicAuth(basic('alice', 'a:b:c'))?.password.reveal(), 'a:b:c');
    assert.equal(parseBasicAuth(basic('alice', ''))?.password.reveal(), '');
    const c = parseBasicAuth(basic('jörg', 'pässwörd🐳'));
    assert.equal(c?.username, 'jörg');
    assert.equal(c?.password.reveal(), 'pässwörd🐳');
  });

  test('the password does not show up when the credentials are printed', () => {
    const c = parseBasicAuth(basic('alice', 'hunter2'));
    assert.ok(!JSON.stringify(c).includes('hunter2'));
    assert.ok(!String(c?.password).includes('hunter2'));
  });

  test('non-Basic schemes are ignored', () => {
    assert.equal(parseBasicAuth('Bearer eyJhbGciOi.x.y'), undefined);
    assert.equal(parseBasicAuth('Digest username="a"'), undefined);
    assert.equal(parseBasicAuth('Negotiate'), undefined);
  });

  const malformed: [string, string, RegExp][] = [
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`, /no ":"/],
    ['empty username', `Basic ${Buffer.from(':pw').toString('base64')}`, /empty username/],
    ['not base64', 'Basic !!!not-base64!!!', /malformed/],
    ['base64 with inner spaces', 'Basic YWxp Y2U6cHc=', /malformed/],
    ['too much padding', 'Basic YWxpY2U6cHc===', /malformed/],
    ['empty credentials', 'Basic ', /malformed/],
    ['scheme only', 'Basic', /malformed/],
    ['base64url alphabet', `Basic ${Buffer.from('a?>:?>?').toString('base64url')}`, /malformed/],
    ['oversized', `Basic ${'A'.repeat(9000)}`, /malformed/],
  ];
  for (const [why, header, re] of malformed) {
    test(`malformed: ${why} -> 400`, () => {
      assert.throws(
        () => parseBasicAuth(header),
        (e: unknown) => {
          assert.ok(isPurserError(e));
          assert.equal(e.code, 'INVALID_REQUEST');
          assert.equal(e.status, 400);
          assert.match(e.message, re);
          return true;
        },
      );
    });
  }

  // The regex alone decided until the round-trip fast path (canonical base64 is accepted
  // without it): the two must judge every header alike, and decode it alike.
  test('accepts and decodes exactly what the base64 regex alone did', () => {
    const reference = (header: string) => {
      const b64 = header.slice(6).trim();
      if (b64.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return 'malformed';
      const decoded = Buffer.from(b64, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return 'malformed';
      return [decoded.slice(0, colon), decoded.slice(colon + 1)];
    };
    const actual = (header: string) => {
      try {
        const c = parseBasicAuth(header);
        return c ? [c.username, c.password.reveal()] : 'none';
      } catch (e) {
        if (isPurserError(e) && e.code === 'INVALID_REQUEST') return 'malformed';
        throw e;
      }
    };
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .:\n';
    const text = fc.oneof(
      // Real credentials, padded, unpadded, or with a character changed.
      fc
        .tuple(
          fc.string({ maxLength: 20 }),
          fc.string({ maxLength: 40 }),
          fc.nat(3),
          fc.nat(60),
          fc.constantFrom(...alphabet),
        )
        .map(([u, p, cut, at, ch]) => {
          const b = Buffer.from(`${u}:${p}`).toString('base64');
          const trimmed = b.slice(0, b.length - (cut % 3));
          return at < trimmed.length && cut === 3
            ? trimmed.slice(0, at) + ch + trimmed.slice(at + 1)
            : trimmed;
        }),
      fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 40 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        assert.deepEqual(actual(`Basic ${t}`), reference(`Basic ${t}`));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseGetTokenRequest', () => {
  test('anonymous login: no scope, no credentials', () => {
    const r = parseGetTokenRequest(q('service=registry.test'), undefined);
    assert.equal(r.grant, 'get');
    assert.equal(r.service, 'registry.test');
    assert.deepEqual(r.scopes, []);
    assert.equal(r.credentials, undefined);
    assert.equal(r.account, undefined);
    assert.equal(r.offline, false);
    assert.equal(r.refreshToken, undefined);
  });

  test('skopeo pull/push/mount with repeated scopes and account', () => {
    const r = parseGetTokenRequest(
      q('account=alice&scope=repository:team/other:pull,push&scope=repository:team/app:pull&service=S'),
      basic('alice', 'pw'),
    );
    assert.equal(r.account, 'alice');
    assert.equal(r.credentials?.username, 'alice');
    assert.deepEqual(r.scopes.map(formatScope), [
      'repository:team/other:pull,push',
      'repository:team/app:pull',
    ]);
  });

  test('account that disagrees with the Basic user -> INVALID_REQUEST 400', () => {
    assert.throws(
      () => parseGetTokenRequest(q('account=mallory&service=S'), basic('alice', 'pw')),
      (e: unknown) =>
        isPurserError(e) && e.code === 'INVALID_REQUEST' && e.status === 400 && e.message.includes('mallory'),
    );
  });

  test('an empty account is no account', () => {
    const r = parseGetTokenRequest(q('account=&service=S'), basic('alice', 'pw'));
    assert.equal(r.account, undefined);
    assert.equal(r.credentials?.username, 'alice');
  });

  test('account without credentials is kept (it is only a hint)', () => {
    assert.equal(parseGetTokenRequest(q('account=alice'), undefined).account, 'alice');
  });

  test('docker login: offline_token=true and client_id', () => {
    const r = parseGetTokenRequest(
      q('account=alice&client_id=docker&offline_token=true&service=S'),
      basic('alice', 'pw'),
    );
    assert.equal(r.offline, true);
    assert.equal(r.clientId, 'docker');
  });

  test('offline_token values', () => {
    for (const [v, want] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['false', false],
      ['0', false],
      ['', false],
    ] as const) {
      assert.equal(parseGetTokenRequest(q(`offline_token=${v}`), undefined).offline, want, v);
    }
    assert.throws(
      () => parseGetTokenRequest(q('offline_token=yes'), undefined),
      purserError('INVALID_REQUEST', 'offline_token'),
    );
  });

  test('a parameter repeated with the same value is fine, with different values is refused', () => {
    assert.equal(parseGetTokenRequest(q('service=S&service=S'), undefined).service, 'S');
    assert.throws(
      () => parseGetTokenRequest(q('service=S&service=T'), undefined),
      purserError('INVALID_REQUEST', 'service'),
    );
  });

  test('an overlong parameter is refused', () => {
    assert.throws(
      () => parseGetTokenRequest(q(`service=${'s'.repeat(9000)}`), undefined),
      purserError('INVALID_REQUEST', 'too long'),
    );
  });

  test('a bad scope is INVALID_SCOPE', () => {
    assert.throws(
      () => parseGetTokenRequest(q('scope=repository:A:pull'), undefined),
      purserError('INVALID_SCOPE'),
    );
  });

  test('a Bearer header on GET is ignored (anonymous)', () => {
    assert.equal(parseGetTokenRequest(q('service=S'), 'Bearer abc').credentials, undefined);
  });

  test('a malformed Basic header on GET is 400', () => {
    assert.throws(() => parseGetTokenRequest(q('service=S'), 'Basic %%%'), purserError('INVALID_REQUEST'));
  });
});

describe('parsePostTokenRequest', () => {
  test('password grant with scopes space-separated in one field (containerd)', () => {
    const r = parsePostTokenRequest(
      q(
        'grant_type=password&username=alice&password=pw&service=S&scope=repository%3Aa%3Apull+repository%3Ab%3Apull%2Cpush',
      ),
      undefined,
    );
    assert.equal(r.grant, 'password');
    assert.equal(r.account, 'alice');
    assert.equal(r.credentials?.username, 'alice');
    assert.equal(r.credentials?.password.reveal(), 'pw');
    assert.deepEqual(r.scopes.map(formatScope), ['repository:a:pull', 'repository:b:pull,push']);
    assert.equal(r.offline, false);
  });

  test('refresh grant with repeated scope fields (skopeo)', () => {
    const r = parsePostTokenRequest(
      q(
        'grant_type=refresh_token&refresh_token=abc.def.ghi&client_id=containers%2Fimage&service=S&scope=repository:a:pull&scope=repository:b:push',
      ),
      undefined,
    );
    assert.equal(r.grant, 'refresh_token');
    assert.equal(r.refreshToken?.reveal(), 'abc.def.ghi');
    assert.equal(r.credentials, undefined);
    assert.equal(r.account, undefined);
    assert.equal(r.clientId, 'containers/image');
    assert.deepEqual(r.scopes.map(formatScope), ['repository:a:pull', 'repository:b:push']);
  });

  test('docker orders actions push,pull on refresh; order is kept', () => {
    const r = parsePostTokenRequest(
      q('grant_type=refresh_token&refresh_token=x&scope=repository:a:push,pull'),
      undefined,
    );
    assert.deepEqual(r.scopes[0]?.actions, ['push', 'pull']);
  });

  test('access_type=offline asks for a refresh token', () => {
    assert.equal(
      parsePostTokenRequest(q('grant_type=password&username=a&password=b&access_type=offline'), undefined)
        .offline,
      true,
    );
  });

  test('password grant may take the credentials from a Basic header', () => {
    const r = parsePostTokenRequest(q('grant_type=password'), basic('bob', 'pw2'));
    assert.equal(r.credentials?.username, 'bob');
    assert.equal(r.account, 'bob');
    assert.equal(r.credentials?.password.reveal(), 'pw2');
  });

  test('password grant without any credentials -> 400', () => {
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=password'), undefined),
      purserError('INVALID_REQUEST', 'username'),
    );
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=password&username='), undefined),
      purserError('INVALID_REQUEST'),
    );
  });

  test('refresh grant without a token -> 400', () => {
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=refresh_token'), undefined),
      purserError('INVALID_REQUEST', 'refresh_token'),
    );
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=refresh_token&refresh_token='), undefined),
      purserError('INVALID_REQUEST'),
    );
  });

  test('missing grant_type -> INVALID_REQUEST', () => {
    assert.throws(
      () => parsePostTokenRequest(q('username=a&password=b'), undefined),
      purserError('INVALID_REQUEST', 'grant_type'),
    );
  });

  test('unsupported grant_type -> UNSUPPORTED_GRANT_TYPE 400, value truncated in the message', () => {
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=client_credentials'), undefined),
      (e: unknown) => {
        assert.ok(isPurserError(e));
        assert.equal(e.code, 'UNSUPPORTED_GRANT_TYPE');
        assert.equal(e.status, 400);
        assert.match(e.message, /client_credentials/);
        return true;
      },
    );
    assert.throws(
      () => parsePostTokenRequest(q(`grant_type=${'x'.repeat(5000)}`), undefined),
      (e: unknown) => isPurserError(e) && e.message.length < 200,
    );
  });

  test('grant_type repeated with different values -> 400', () => {
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=password&grant_type=refresh_token&username=a'), undefined),
      purserError('INVALID_REQUEST'),
    );
  });

  test('malformed Basic header with a password grant that relies on it -> 400', () => {
    assert.throws(
      () => parsePostTokenRequest(q('grant_type=password'), 'Basic Zm9v'),
      purserError('INVALID_REQUEST'),
    );
  });
});

describe('fuzz', () => {
  const printable = fc.string({
    unit: fc.constantFrom(...'abcABC019+/=: %&;,.-_\t'.split('')),
    maxLength: 60,
  });
  const header = fc.oneof(
    printable,
    printable.map((s) => `Basic ${s}`),
    fc.string({ maxLength: 40 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc.constant(undefined),
  );
  const key = fc.constantFrom(
    'service',
    'scope',
    'account',
    'offline_token',
    'client_id',
    'grant_type',
    'username',
    'password',
    'refresh_token',
    'access_type',
    'x',
  );
  const value = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom(
      'repository:a:pull',
      'registry:catalog:*',
      'password',
      'refresh_token',
      'true',
      '',
      'repository:A:pull',
    ),
  );
  const query = fc.oneof(
    fc.array(fc.tuple(key, value), { maxLength: 8 }).map((kv) => new URLSearchParams(kv).toString()),
    fc.string({ unit: 'binary', maxLength: 100 }),
  );

  test('random headers and queries throw nothing but PurserError', () => {
    fc.assert(
      fc.property(query, header, (qs, h) => {
        for (const f of [parseGetTokenRequest, parsePostTokenRequest]) {
          try {
            const r = f(new URLSearchParams(qs), h);
            assert.ok(Array.isArray(r.scopes));
          } catch (e) {
            if (!isPurserError(e)) throw e;
            assert.equal(e.status, 400, e.message);
          }
        }
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
