import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { afterEach, describe, mock, test } from 'node:test';
import { ANONYMOUS, type Identity } from '../../../src/core/identity.js';
import { selfSignedCertificate } from '../../../src/token/certificate.js';
import { KeyRing } from '../../../src/token/keyring.js';
import {
  generateSigningKeyPair,
  type SigningAlgorithm,
  type SigningKey,
  signingKeyFromPem,
} from '../../../src/token/keys.js';
import { issueRefreshToken, verifyRefreshToken } from '../../../src/token/refresh.js';
import { decodeJwt, purserError } from '../support.js';

async function key(alg: SigningAlgorithm = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = generateSigningKeyPair(alg);
  return signingKeyFromPem(
    privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    selfSignedCertificate(privateKey, publicKey),
    'k',
  );
}
const ringOf = (...keys: SigningKey[]) =>
  new KeyRing(keys, { issuer: 'purser-test', keyId: 'libtrust', expiresIn: 300 });
const alice: Identity = { account: 'alice', provider: 'static', labels: {}, claims: {} };
const T0 = Date.UTC(2031, 5, 1, 12, 0, 0);

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
function forge(k: SigningKey, header: object, payload: object): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: k.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

describe('refresh tokens', async () => {
  const k1 = await key();
  const k2 = await key('RS256');
  afterEach(() => mock.timers.reset());

  test('issue/verify round trip keeps sub, prv, cfp, labels, claims', async () => {
    const ring = ringOf(k1);
    const id: Identity = {
      account: 'ci',
      provider: 'github',
      labels: { team: 'a' },
      claims: { repository: 'acme/app', n: 1 },
    };
    const tok = issueRefreshToken(ring, 'purser-test', id, { cfp: 'fp1' }, 3600);
    const { iat, jti, ...c } = await verifyRefreshToken(ring, 'purser-test', tok);
    assert.ok(Math.abs(iat - Date.now() / 1000) < 5, 'iat, for revocations by time');
    assert.match(jti!, /^[A-Za-z0-9_-]{22}$/, 'jti, for revocations of one token');
    assert.deepEqual(c, {
      sub: 'ci',
      prv: 'github',
      cfp: 'fp1',
      lbl: { team: 'a' },
      clm: { repository: 'acme/app', n: 1 },
    });
  });

  test('header: typ purser-rt+jwt and the thumbprint kid; aud is not a registry service', () => {
    const tok = issueRefreshToken(ringOf(k1), 'purser-test', alice, {}, 60);
    const d = decodeJwt(tok);
    assert.deepEqual(d.header, { alg: 'ES256', typ: 'purser-rt+jwt', kid: k1.thumbprint });
    assert.equal(d.payload.aud, 'purser-refresh');
    assert.equal(d.payload.access, undefined);
    assert.equal(d.payload.lbl, undefined);
    assert.equal(d.payload.clm, undefined);
    assert.equal(d.payload.cfp, undefined);
  });

  test('a token stays valid until its lifetime ends, then is refused as expired (frozen clock)', async () => {
    const ring = ringOf(k1);
    mock.timers.enable({ apis: ['Date'], now: T0 });
    const tok = issueRefreshToken(ring, 'purser-test', alice, {}, 3600);
    assert.equal(decodeJwt(tok).payload.exp, T0 / 1000 + 3600);
    mock.timers.setTime(T0 + 3599_000);
    assert.equal((await verifyRefreshToken(ring, 'purser-test', tok)).sub, 'alice');
    mock.timers.setTime(T0 + 3601_000);
    await assert.rejects(
      verifyRefreshToken(ring, 'purser-test', tok),
      purserError('UNAUTHORIZED', 'expired'),
    );
  });

  test('a token verifies with any key of the ring (rotation) but not with a ring that lacks its key', async () => {
    const tok = issueRefreshToken(ringOf(k2), 'purser-test', alice, {}, 60);
    assert.equal((await verifyRefreshToken(ringOf(k1, k2), 'purser-test', tok)).sub, 'alice');
    await assert.rejects(
      verifyRefreshToken(ringOf(k1), 'purser-test', tok),
      purserError('UNAUTHORIZED', 'unknown key'),
    );
  });

  test('a token signed by a foreign key that claims a ring kid is refused', async () => {
    const foreign = await key();
    const iat = Math.floor(Date.now() / 1000);
    const tok = forge(
      foreign,
      { alg: 'ES256', typ: 'purser-rt+jwt', kid: k1.thumbprint },
      { iss: 'purser-test', aud: 'purser-refresh', sub: 'admin', prv: 'static', iat, exp: iat + 60 },
    );
    await assert.rejects(
      verifyRefreshToken(ringOf(k1), 'purser-test', tok),
      purserError('UNAUTHORIZED', 'invalid refresh token'),
    );
  });

  test('an access token is refused as a refresh token (typ), even with a thumbprint kid', async () => {
    const ring = new KeyRing([k1], { issuer: 'purser-test', keyId: 'thumbprint', expiresIn: 300 });
    const access = ring.signer.issue('alice', 'registry.test', []).token;
    assert.equal(decodeJwt(access).header.kid, k1.thumbprint);
    await assert.rejects(
      verifyRefreshToken(ring, 'purser-test', access),
      purserError('UNAUTHORIZED', 'invalid refresh token'),
    );
  });

  test('right typ but registry audience is refused', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const tok = forge(
      k1,
      { alg: 'ES256', typ: 'purser-rt+jwt', kid: k1.thumbprint },
      { iss: 'purser-test', aud: 'registry.test', sub: 'a', prv: 'static', iat, exp: iat + 60 },
    );
    await assert.rejects(verifyRefreshToken(ringOf(k1), 'purser-test', tok), purserError('UNAUTHORIZED'));
  });

  test('another issuer is refused', async () => {
    const tok = issueRefreshToken(ringOf(k1), 'someone-else', alice, {}, 60);
    await assert.rejects(verifyRefreshToken(ringOf(k1), 'purser-test', tok), purserError('UNAUTHORIZED'));
  });

  test('a tampered payload is refused', async () => {
    const ring = ringOf(k1);
    const tok = issueRefreshToken(ring, 'purser-test', alice, {}, 60);
    const [h, p, s] = tok.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload.sub = 'admin';
    const tampered = `${h}.${b64(payload)}.${s}`;
    await assert.rejects(
      verifyRefreshToken(ring, 'purser-test', tampered),
      purserError('UNAUTHORIZED', 'invalid refresh token'),
    );
  });

  test('missing prv or sub claims are refused; alg none is refused', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const h = { alg: 'ES256', typ: 'purser-rt+jwt', kid: k1.thumbprint };
    const base = { iss: 'purser-test', aud: 'purser-refresh', iat, exp: iat + 60 };
    await assert.rejects(
      verifyRefreshToken(ringOf(k1), 'purser-test', forge(k1, h, { ...base, sub: 'a' })),
      purserError('UNAUTHORIZED'),
    );
    await assert.rejects(
      verifyRefreshToken(ringOf(k1), 'purser-test', forge(k1, h, { ...base, prv: 'static' })),
      purserError('UNAUTHORIZED'),
    );
    const none = `${b64({ alg: 'none', typ: 'purser-rt+jwt', kid: k1.thumbprint })}.${b64({ ...base, sub: 'a', prv: 'static' })}.`;
    await assert.rejects(verifyRefreshToken(ringOf(k1), 'purser-test', none), purserError('UNAUTHORIZED'));
  });

  test('garbage and oversized input are UNAUTHORIZED, not crashes', async () => {
    for (const junk of ['', 'x', 'a.b.c', '...', 'eyJ9.eyJ9.x', `${'a'.repeat(70_000)}`]) {
      await assert.rejects(verifyRefreshToken(ringOf(k1), 'purser-test', junk), purserError('UNAUTHORIZED'));
    }
  });

  test('anonymous identity round-trips with an empty sub', async () => {
    const tok = issueRefreshToken(ringOf(k1), 'purser-test', ANONYMOUS, {}, 60);
    const { iat: _iat, jti: _jti, ...c } = await verifyRefreshToken(ringOf(k1), 'purser-test', tok);
    assert.deepEqual(c, { sub: '', prv: 'anonymous' });
  });
});
