// verifyAccessToken / covers: how the proxy checks Purser's own registry tokens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isPurserError } from '../../../src/core/errors.js';
import { KeyRing } from '../../../src/token/keyring.js';
import type { SigningAlgorithm } from '../../../src/token/keys.js';
import type { AccessEntry, KeyIdMode } from '../../../src/token/signer.js';
import { covers, verifyAccessToken } from '../../../src/token/verify-access.js';
import { decodeJwt, type KeyFiles, makeKeys } from '../support.js';

const ISS = 'purser-test';
const SVC = 'registry.test';
const PULL = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];

async function ring(keys: KeyFiles, keyId: KeyIdMode, issuer = ISS): Promise<KeyRing> {
  return KeyRing.load([{ key: keys.keyPath, certificate: keys.crtPath }], { issuer, keyId, expiresIn: 300 });
}

async function refused(p: Promise<unknown>, message?: RegExp): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isPurserError(e), `expected a PurserError, got ${String(e)}`);
    assert.equal(e.code, 'UNAUTHORIZED');
    if (message) assert.match(e.message, message);
    return e.message;
  }
  assert.fail('token was accepted');
}

describe('verifyAccessToken', () => {
  const made: (KeyFiles & { cleanup: () => void })[] = [];
  const keys: Partial<Record<SigningAlgorithm, KeyFiles>> = {};
  let other: KeyFiles;
  before(async () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const k = await makeKeys(alg);
      made.push(k);
      keys[alg] = k;
    }
    const o = await makeKeys('ES256');
    made.push(o);
    other = o;
  });
  after(() => {
    for (const k of made) k.cleanup();
  });

  for (const alg of ['ES256', 'RS256'] as const) {
    for (const mode of ['libtrust', 'thumbprint', 'x5c'] as const) {
      test(`accepts its own ${alg} token in ${mode} mode`, async () => {
        const r = await ring(keys[alg]!, mode);
        const t = r.signer.issue('alice', SVC, [
          { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
        ]);
        const h = decodeJwt(t.token).header;
        if (mode === 'x5c') assert.ok(Array.isArray(h.x5c) && h.kid === undefined, JSON.stringify(h));
        else assert.equal(h.kid, mode === 'libtrust' ? r.keys[0]!.libtrustKid : r.keys[0]!.thumbprint);
        const v = await verifyAccessToken(r, t.token, ISS, SVC);
        assert.equal(v.sub, 'alice');
        assert.equal(v.exp, t.claims.exp);
        assert.deepEqual(v.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
      });
    }
  }

  test('a token signed in one kid mode verifies with a ring of the same key in another mode', async () => {
    const signer = await ring(keys.ES256!, 'x5c');
    const verifier = await ring(keys.ES256!, 'thumbprint');
    const t = signer.signer.issue('bob', SVC, PULL);
    assert.equal((await verifyAccessToken(verifier, t.token, ISS, SVC)).sub, 'bob');
  });

  test('refuses a token for another audience (service)', async () => {
    const r = await ring(keys.ES256!, 'libtrust');
    const t = r.signer.issue('alice', 'other.service', PULL);
    await refused(verifyAccessToken(r, t.token, ISS, SVC), /invalid token/);
  });

  test('refuses a token from another issuer', async () => {
    const r = await ring(keys.ES256!, 'libtrust', 'someone-else');
    const mine = await ring(keys.ES256!, 'libtrust');
    const t = r.signer.issue('alice', SVC, PULL);
    await refused(verifyAccessToken(mine, t.token, ISS, SVC), /invalid token/);
  });

  test('accepts a token expired within the 60 s leeway, refuses one expired beyond it', async () => {
    const r = await ring(keys.ES256!, 'libtrust');
    const within = r.signer.issue('alice', SVC, PULL, Date.now() - 330_000); // exp 30 s ago
    assert.equal((await verifyAccessToken(r, within.token, ISS, SVC)).sub, 'alice');
    const beyond = r.signer.issue('alice', SVC, PULL, Date.now() - 400_000); // exp 100 s ago
    await refused(verifyAccessToken(r, beyond.token, ISS, SVC), /expired/);
  });

  test('refuses a token not yet valid beyond the leeway', async () => {
    const r = await ring(keys.ES256!, 'libtrust');
    const future = r.signer.issue('alice', SVC, PULL, Date.now() + 300_000);
    await refused(verifyAccessToken(r, future.token, ISS, SVC));
  });

  for (const mode of ['libtrust', 'thumbprint', 'x5c'] as const) {
    test(`refuses a token signed by another key (${mode})`, async () => {
      const theirs = await ring(other, mode);
      const mine = await ring(keys.ES256!, mode);
      const t = theirs.signer.issue('alice', SVC, PULL);
      await refused(verifyAccessToken(mine, t.token, ISS, SVC), /not signed by this server/);
    });
  }

  test("refuses another key's signature under our kid (forged header)", async () => {
    const mine = await ring(keys.ES256!, 'libtrust');
    const theirs = await ring(other, 'libtrust');
    const t = theirs.signer.issue('alice', SVC, PULL);
    const forged = theirs.signer.signClaims(decodeJwt(t.token).payload, { kid: mine.keys[0]!.libtrustKid });
    await refused(verifyAccessToken(mine, forged, ISS, SVC), /invalid token/);
  });

  test("refuses another key's signature with our x5c chain in the header", async () => {
    const mine = await ring(keys.ES256!, 'x5c');
    const theirs = await ring(other, 'x5c');
    const t = theirs.signer.issue('alice', SVC, PULL);
    const forged = theirs.signer.signClaims(decodeJwt(t.token).payload, { x5c: mine.keys[0]!.x5c });
    await refused(verifyAccessToken(mine, forged, ISS, SVC), /invalid token/);
  });

  test('refuses a token with no exp', async () => {
    const r = await ring(keys.ES256!, 'libtrust');
    const now = Math.floor(Date.now() / 1000);
    const t = r.signer.signClaims({ iss: ISS, aud: SVC, sub: 'alice', nbf: now - 1, iat: now, access: PULL });
    await refused(verifyAccessToken(r, t, ISS, SVC));
  });

  test('refuses garbage, alg none, and an over-long token', async () => {
    const r = await ring(keys.ES256!, 'libtrust');
    await refused(verifyAccessToken(r, 'not-a-jwt', ISS, SVC));
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: ISS, aud: SVC, sub: 'a', exp: Math.floor(Date.now() / 1000) + 60, access: PULL }),
    ).toString('base64url')}.`;
    await refused(verifyAccessToken(r, none, ISS, SVC));
    await refused(verifyAccessToken(r, 'a'.repeat(70_000), ISS, SVC), /too long/);
  });

  test('a token without an access claim verifies with no access', async () => {
    const r = await ring(keys.ES256!, 'libtrust');
    const now = Math.floor(Date.now() / 1000);
    const t = r.signer.signClaims({
      iss: ISS,
      aud: SVC,
      sub: 'alice',
      nbf: now - 1,
      iat: now,
      exp: now + 60,
    });
    const v = await verifyAccessToken(r, t, ISS, SVC);
    assert.deepEqual(v.access, []);
  });
});

describe('covers', () => {
  const access: AccessEntry[] = [
    { type: 'repository', name: 'team/app', actions: ['pull'] },
    { type: 'repository', name: 'team/app', actions: ['push'] },
    { type: 'repository', name: 'team/all', actions: ['*'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
    { type: 'repository', name: 'team/ro', actions: ['pull'] },
  ];

  test('actions granted across several entries add up', () => {
    assert.equal(covers(access, 'repository', 'team/app', ['pull', 'push']), true);
    assert.equal(covers(access, 'repository', 'team/app', ['pull']), true);
  });

  test('a partial grant does not cover more', () => {
    assert.equal(covers(access, 'repository', 'team/ro', ['pull', 'push']), false);
    assert.equal(covers(access, 'repository', 'team/ro', ['delete']), false);
    assert.equal(covers(access, 'repository', 'team/app', ['delete']), false);
  });

  test('* covers every action', () => {
    assert.equal(covers(access, 'repository', 'team/all', ['pull', 'push', 'delete']), true);
    assert.equal(covers(access, 'registry', 'catalog', ['*']), true);
  });

  test('requesting * needs * granted', () => {
    assert.equal(covers(access, 'repository', 'team/app', ['*']), false);
  });

  test('type and name must match exactly', () => {
    assert.equal(covers(access, 'registry', 'team/all', ['pull']), false);
    assert.equal(covers(access, 'repository', 'team/all/sub', ['pull']), false);
    assert.equal(covers(access, 'repository', 'team', ['pull']), false);
    assert.equal(covers(access, 'repository', 'catalog', ['*']), false);
    assert.equal(covers([], 'repository', 'team/app', ['pull']), false);
  });

  test('malformed entries are ignored', () => {
    const bad = [{ type: 'repository', name: 'x', actions: 'pull' }] as unknown as AccessEntry[];
    assert.equal(covers(bad, 'repository', 'x', ['pull']), false);
  });
});
