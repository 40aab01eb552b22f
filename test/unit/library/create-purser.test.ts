// createPurser: built from parts or from a config object, mounted in a plain node:http
// server under a prefix, with bodies read by middleware, readiness from the runtime,
// issue() without HTTP, reload() and close().
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { jwtVerify } from 'jose';
import { writeKeyPair } from '../../../src/cli/keys.js';
import {
  type Authenticator,
  type Authorizer,
  ChallengeError,
  ConfigError,
  createLogger,
  createPurser,
  Denied,
  generateSigningKeyPair,
  type Purser,
  PurserError,
} from '../../../src/index.js';
import { tempDir } from '../support.js';
import { basic, claimsOf, form, ownNamespace, type Served, serve, userTable } from './support.js';

const quiet = createLogger({ write: () => {} });
const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const users = userTable({ alice: 'alice-pw', bob: 'bob-pw' });

/** Mounts the handler at /auth in a plain node:http app that owns everything else. */
function mountAtAuth(purser: Purser) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/auth/')) return purser.handler(req, res);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('the app');
  };
}

describe('createPurser from parts, in node:http under /auth', () => {
  const first = generateSigningKeyPair('ES256');
  const second = generateSigningKeyPair('RS256');
  let purser: Purser;
  let app: Served;

  before(async () => {
    purser = await createPurser({
      issuer: 'lib-test',
      services: ['registry.test', 'other.test'],
      // A PEM string signs; a KeyObject is published beside it.
      signingKeys: [pem(first.privateKey), second.privateKey],
      authenticators: [users],
      authorizer: ownNamespace,
      logger: quiet,
    });
    app = await serve(mountAtAuth(purser));
  });
  after(async () => {
    await purser.close();
    await app.close();
  });

  test('GET /auth/token: the custom authenticator and authorizer decide, the PEM key signs', async () => {
    const res = await fetch(
      `${app.origin}/auth/token?service=registry.test&scope=repository:alice/app:pull,push`,
      {
        headers: { authorization: basic('alice', 'alice-pw') },
      },
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string; access_token: string };
    const { payload } = await jwtVerify(body.token, first.publicKey, { issuer: 'lib-test' });
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.access, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
    assert.equal(body.access_token, body.token);
  });

  test("the authorizer denies what is not the caller's: a token with no access", async () => {
    const res = await fetch(`${app.origin}/auth/token?service=registry.test&scope=repository:bob/app:pull`, {
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(claimsOf(((await res.json()) as { token: string }).token).access, []);
  });

  test("the authenticator's rejection is a 401 with the Basic challenge", async () => {
    const res = await fetch(`${app.origin}/auth/token?service=registry.test`, {
      headers: { authorization: basic('alice', 'wrong') },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="purser"');
  });

  test('/auth/.well-known/jwks.json publishes both keys, PEM string and KeyObject', async () => {
    const res = await fetch(`${app.origin}/auth/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    const { keys } = (await res.json()) as { keys: { kty: string; alg: string }[] };
    assert.deepEqual(
      keys.map((k) => k.alg),
      ['ES256', 'RS256'],
    );
  });

  test('ready without listen(): /auth/readyz is 200 though Purser never listened', async () => {
    const res = await fetch(`${app.origin}/auth/readyz`);
    assert.equal(res.status, 200);
    assert.equal((await fetch(`${app.origin}/auth/healthz`)).status, 200);
  });

  test('an unknown path under the prefix is 404 NOT_FOUND; the app keeps its own paths', async () => {
    const res = await fetch(`${app.origin}/auth/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, 'NOT_FOUND');
    assert.equal(await (await fetch(`${app.origin}/elsewhere`)).text(), 'the app');
  });

  test('POST /auth/token with a form read from the stream', async () => {
    const res = await fetch(
      `${app.origin}/auth/token`,
      form({
        grant_type: 'password',
        username: 'bob',
        password: 'bob-pw',
        service: 'other.test',
        scope: 'repository:bob/x:pull',
      }),
    );
    assert.equal(res.status, 200);
    const claims = claimsOf(((await res.json()) as { access_token: string }).access_token);
    assert.equal(claims.aud, 'other.test');
  });

  test("issue(): the token endpoint's JSON object, through the same authorizer and signer, no HTTP", async () => {
    const identity = { account: 'alice', provider: 'app-users', labels: {}, claims: {} };
    const out = await purser.issue(identity, ['repository:alice/app:pull', 'repository:bob/app:pull'], {
      service: 'other.test',
    });
    const res = await fetch(`${app.origin}/auth/token?service=registry.test`, {
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    assert.deepEqual(Object.keys(out).sort(), Object.keys((await res.json()) as object).sort());
    const { payload } = await jwtVerify(out.token, first.publicKey, {
      issuer: 'lib-test',
      audience: 'other.test',
    });
    assert.deepEqual(payload.access, [{ type: 'repository', name: 'alice/app', actions: ['pull'] }]);
    await assert.rejects(purser.issue(identity, [], { service: 'nope' }), { code: 'UNKNOWN_SERVICE' });
    await assert.rejects(purser.issue(identity, ['repository:alice/app'], {}), { code: 'INVALID_SCOPE' });
    // Parsed scopes go through the same grammar and limits as the endpoint's.
    await assert.rejects(
      purser.issue(identity, [{ type: 'repository', name: 'Bad Name', actions: ['pull'] }]),
      {
        code: 'INVALID_SCOPE',
      },
    );
    const many = Array.from({ length: 65 }, (_, i) => `repository:alice/r${i}:pull`);
    await assert.rejects(purser.issue(identity, many), { code: 'INVALID_SCOPE' });
  });
});

describe('createPurser: bodies already read by middleware', () => {
  let purser: Purser;
  before(async () => {
    purser = await createPurser({
      issuer: 'lib-test',
      services: 'registry.test',
      signingKeys: [generateSigningKeyPair('ES256').privateKey],
      authenticators: [users],
      authorizer: ownNamespace,
      logger: quiet,
    });
  });
  after(() => purser.close());

  /** A body parser in front of Purser: consumes the stream, leaves `req.body` as `shape`. */
  const preRead = (shape: 'string' | 'buffer' | 'object') => (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const r = req as IncomingMessage & { body?: unknown };
      r.body =
        shape === 'buffer'
          ? raw
          : shape === 'string'
            ? raw.toString('utf8')
            : Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
      purser.handler(req, res);
    });
  };

  for (const shape of ['string', 'buffer', 'object'] as const) {
    test(`req.body as ${shape} is used instead of the (consumed) stream`, async () => {
      const app = await serve(preRead(shape));
      try {
        const res = await fetch(`${app.origin}/auth/token`, {
          ...form({
            grant_type: 'password',
            username: 'alice',
            password: 'alice-pw',
            scope: 'repository:alice/a:pull',
          }),
          signal: AbortSignal.timeout(5000),
        });
        assert.equal(res.status, 200);
        const claims = claimsOf(((await res.json()) as { token: string }).token);
        assert.deepEqual(claims.access, [{ type: 'repository', name: 'alice/a', actions: ['pull'] }]);
      } finally {
        await app.close();
      }
    });
  }

  test('a pre-parsed object with a nested value (qs extended syntax) is a 400, not a crash', async () => {
    const app = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        (req as IncomingMessage & { body?: unknown }).body = { grant_type: 'password', username: { a: 1 } };
        purser.handler(req, res);
      });
    });
    try {
      const res = await fetch(`${app.origin}/token`, { ...form({}), signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: string; errors: { code: string }[] };
      assert.equal(body.errors[0]!.code, 'INVALID_REQUEST');
      assert.equal(body.error, 'invalid_request');
    } finally {
      await app.close();
    }
  });
});

describe('createPurser: errors of custom code', () => {
  test('a ChallengeError writes its own WWW-Authenticate; a Denied is a 403 with an OAuth error', async () => {
    const disabled: Authorizer = {
      authorize(req) {
        if (req.identity.account === 'bob') throw new Denied('account bob is disabled');
        return ownNamespace.authorize(req);
      },
    };
    const purser = await createPurser({
      issuer: 'lib-test',
      services: 'registry.test',
      signingKeys: [generateSigningKeyPair('ES256').privateKey],
      authenticators: [
        {
          kind: 'sso',
          async authenticate(c) {
            if (c.username !== 'sso') return { outcome: 'no-match' };
            throw new ChallengeError('log in through the SSO portal', 'Basic realm="corp", charset="UTF-8"');
          },
        },
        users,
      ],
      authorizer: disabled,
      logger: quiet,
    });
    const app = await serve(purser.handler);
    try {
      const r1 = await fetch(`${app.origin}/token`, { headers: { authorization: basic('sso', 'x') } });
      assert.equal(r1.status, 401);
      assert.equal(r1.headers.get('www-authenticate'), 'Basic realm="corp", charset="UTF-8"');
      const r2 = await fetch(
        `${app.origin}/token`,
        form({ grant_type: 'password', username: 'bob', password: 'bob-pw' }),
      );
      assert.equal(r2.status, 403);
      const body = (await r2.json()) as {
        error: string;
        error_description: string;
        errors: { code: string }[];
      };
      assert.equal(body.errors[0]!.code, 'DENIED');
      assert.equal(body.error, 'invalid_grant');
      assert.equal(body.error_description, 'account bob is disabled');
    } finally {
      await purser.close();
      await app.close();
    }
  });

  test('refusals at creation: nothing to decide access, a public key to sign with, no key', async () => {
    const base = { issuer: 'x', services: 's', authenticators: [users], logger: quiet };
    const key = generateSigningKeyPair('ES256');
    await assert.rejects(createPurser({ ...base, signingKeys: [key.privateKey] }), ConfigError);
    await assert.rejects(
      createPurser({ ...base, authorizer: ownNamespace, signingKeys: [createPublicKey(key.privateKey)] }),
      (e: unknown) => e instanceof PurserError && e.code === 'INVALID_KEY' && /private key/.test(e.message),
    );
    await assert.rejects(createPurser({ ...base, authorizer: ownNamespace, signingKeys: [] }), {
      code: 'INVALID_KEY',
    });
    await assert.rejects(
      createPurser({ ...base, authorizer: ownNamespace, signingKeys: ['not a pem'] }),
      (e: unknown) =>
        e instanceof PurserError && e.code === 'INVALID_KEY' && !e.message.includes('not a pem'),
    );
  });
});

describe('createPurser from a config object: reload and close', () => {
  const tmp = tempDir('purser-lib-');
  const config = (issuer: string, extra: Record<string, unknown> = {}) => ({
    token: { issuer, service: 'registry.test', key: 'k/token.key' },
    users: { carol: { password: 'carol-pw' } },
    acl: [{ match: { account: 'carol' }, actions: ['pull'] }],
    ...extra,
  });
  before(async () => {
    await writeKeyPair(`${tmp.dir}/k`, 'ES256');
  });
  after(() => tmp.cleanup());

  const token = async (origin: string) => {
    const res = await fetch(`${origin}/token?scope=repository:x/y:pull`, {
      headers: { authorization: basic('carol', 'carol-pw') },
    });
    assert.equal(res.status, 200, await res.clone().text());
    return claimsOf(((await res.json()) as { token: string }).token);
  };

  test('paths are relative to baseDir; signingKeys may replace token.key, not accompany it', async () => {
    const purser = await createPurser({ config: config('from-file'), baseDir: tmp.dir, logger: quiet });
    await purser.close();
    const { key: _k, ...tokenWithoutKey } = config('x').token;
    const inMemory = await createPurser({
      config: { ...config('in-memory'), token: tokenWithoutKey },
      signingKeys: [generateSigningKeyPair('ES256').privateKey],
      logger: quiet,
    });
    await inMemory.close();
    await assert.rejects(
      createPurser({
        config: config('both'),
        baseDir: tmp.dir,
        signingKeys: [generateSigningKeyPair('ES256').privateKey],
      }),
      (e: unknown) => e instanceof ConfigError && /leave token.key and token.keys out/.test(e.message),
    );
    await assert.rejects(
      createPurser({ config: config('no-dir'), baseDir: '/nonexistent', logger: quiet }),
      ConfigError,
    );
  });

  test('reload: an invalid config throws a ConfigError and the old one keeps serving; a valid one swaps in', async () => {
    const purser = await createPurser({ config: config('one'), baseDir: tmp.dir, logger: quiet });
    const app = await serve(purser.handler);
    try {
      assert.equal((await token(app.origin)).iss, 'one');
      await assert.rejects(
        purser.reload(config('two', { acl: [{ match: { when: 'claims.(' }, actions: ['pull'] }] })),
        ConfigError,
      );
      await assert.rejects(
        purser.reload({ ...config('two'), token: { issuer: 'two', service: 's', key: 'missing.key' } }),
        ConfigError,
      );
      assert.equal((await token(app.origin)).iss, 'one');
      await purser.reload(config('two'));
      assert.equal((await token(app.origin)).iss, 'two');
    } finally {
      await purser.close();
      await app.close();
    }
  });

  test('reload under load drops no request', async () => {
    // A slow user store keeps requests in flight across every swap.
    const slowCarol: Authenticator = {
      kind: 'slow',
      async authenticate(c) {
        if (c.username !== 'carol') return { outcome: 'no-match' };
        await new Promise((r) => setTimeout(r, 5));
        return {
          outcome: 'authenticated',
          identity: { account: 'carol', provider: 'slow', labels: {}, claims: {} },
        };
      },
    };
    const purser = await createPurser({
      config: config('gen-0'),
      baseDir: tmp.dir,
      logger: quiet,
      authenticators: [slowCarol],
    });
    const app = await serve(purser.handler);
    let reloading = true;
    const seen = new Set<string>();
    let done = 0;
    const worker = async () => {
      while (reloading) {
        seen.add(String((await token(app.origin)).iss));
        done++;
      }
    };
    try {
      const workers = Array.from({ length: 6 }, worker);
      for (let i = 1; i <= 8; i++) {
        await purser.reload(config(`gen-${i}`));
        await new Promise((r) => setTimeout(r, 30));
      }
      reloading = false;
      await Promise.all(workers);
      assert.ok(done >= 20, `only ${done} requests ran`);
      assert.ok(seen.size >= 3, `tokens came from ${[...seen].join(', ')}`);
      assert.equal((await token(app.origin)).iss, 'gen-8');
    } finally {
      reloading = false;
      await purser.close();
      await app.close();
    }
  });

  test('close(): /readyz turns 503, token requests are 503 UNAVAILABLE, reload is refused', async () => {
    const purser = await createPurser({ config: config('closing'), baseDir: tmp.dir, logger: quiet });
    const app = await serve(purser.handler);
    try {
      assert.equal((await fetch(`${app.origin}/readyz`)).status, 200);
      assert.equal(purser.ready, true);
      await purser.close();
      assert.equal(purser.ready, false);
      assert.equal((await fetch(`${app.origin}/readyz`)).status, 503);
      assert.equal((await fetch(`${app.origin}/healthz`)).status, 200);
      const res = await fetch(`${app.origin}/token`);
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, 'UNAVAILABLE');
      await assert.rejects(purser.reload(config('after')), { code: 'UNAVAILABLE' });
    } finally {
      await app.close();
    }
  });
});
