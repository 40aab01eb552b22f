import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { compactVerify, decodeProtectedHeader, jwtVerify } from 'jose';
import { selfSignedCertificate } from '../../../src/token/certificate.js';
import { KeyRing } from '../../../src/token/keyring.js';
import {
  generateSigningKeyPair,
  type SigningAlgorithm,
  type SigningKey,
  signingKeyFromPem,
} from '../../../src/token/keys.js';
import { type KeyIdMode, TokenSigner } from '../../../src/token/signer.js';
import { decodeJwt } from '../support.js';

async function key(alg: SigningAlgorithm, withCert = true): Promise<SigningKey> {
  const { privateKey, publicKey } = generateSigningKeyPair(alg);
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return signingKeyFromPem(
    pem,
    withCert ? selfSignedCertificate(privateKey, publicKey) : undefined,
    `${alg}.key`,
  );
}

const NOW = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
const opts = (keyId: KeyIdMode) => ({ issuer: 'purser-test', keyId, expiresIn: 300 });

describe('TokenSigner', async () => {
  const es = await key('ES256');
  const rs = await key('RS256');

  test('ES256 header: alg, typ JWT, libtrust kid by default mode', () => {
    const t = new TokenSigner(es, opts('libtrust')).issue('alice', 'registry.test', [], NOW);
    assert.deepEqual(decodeJwt(t.token).header, { alg: 'ES256', typ: 'JWT', kid: es.libtrustKid });
  });

  test('thumbprint mode puts the RFC 7638 thumbprint in kid', () => {
    const t = new TokenSigner(es, opts('thumbprint')).issue('alice', 'registry.test', [], NOW);
    assert.deepEqual(decodeJwt(t.token).header, { alg: 'ES256', typ: 'JWT', kid: es.thumbprint });
  });

  test('x5c mode puts the chain and no kid', () => {
    const t = new TokenSigner(es, opts('x5c')).issue('alice', 'registry.test', [], NOW);
    const h = decodeJwt(t.token).header;
    assert.equal(h.kid, undefined);
    assert.deepEqual(h.x5c, es.x5c);
    const leaf = new X509Certificate(Buffer.from((h.x5c as string[])[0]!, 'base64'));
    assert.ok(leaf.verify(es.publicKey));
  });

  test('x5c mode without a certificate is refused at construction', async () => {
    const k = await key('ES256', false);
    assert.throws(() => new TokenSigner(k, opts('x5c')), /certificate/);
  });

  test('ES256 signature is 64 raw bytes (r||s) and verifies with jose', async () => {
    const signer = new TokenSigner(es, opts('libtrust'));
    for (let i = 0; i < 20; i++) {
      const t = signer.issue('alice', 'registry.test', [
        { type: 'repository', name: 'a', actions: ['pull'] },
      ]);
      assert.equal(decodeJwt(t.token).signature.length, 64);
      const { protectedHeader } = await compactVerify(t.token, es.publicKey);
      assert.equal(protectedHeader.alg, 'ES256');
    }
  });

  test('claims: iss, sub, aud as a string, exp, nbf = iat - 1, iat, jti, access', () => {
    const access = [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', class: 'plugin', name: 'x/y', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ];
    const t = new TokenSigner(es, opts('libtrust')).issue('alice', 'registry.test', access, NOW);
    const p = decodeJwt(t.token).payload;
    const iat = Math.floor(NOW / 1000);
    assert.deepEqual(
      { ...p, jti: undefined },
      {
        iss: 'purser-test',
        sub: 'alice',
        aud: 'registry.test',
        exp: iat + 300,
        nbf: iat - 1,
        iat,
        jti: undefined,
        access: [
          { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
          { type: 'repository', class: 'plugin', name: 'x/y', actions: ['pull'] },
          { type: 'registry', name: 'catalog', actions: ['*'] },
        ],
      },
    );
    assert.equal(typeof p.aud, 'string');
    assert.match(String(p.jti), /^[A-Za-z0-9_-]{22,}$/);
    assert.deepEqual(t.claims, p);
    assert.equal(t.expiresIn, 300);
    assert.equal(t.issuedAt.getTime(), iat * 1000);
  });

  test('anonymous: sub is the empty string and access may be empty', () => {
    const p = decodeJwt(
      new TokenSigner(es, opts('libtrust')).issue('', 'registry.test', [], NOW).token,
    ).payload;
    assert.equal(p.sub, '');
    assert.deepEqual(p.access, []);
  });

  test('jti is random per token', () => {
    const s = new TokenSigner(es, opts('libtrust'));
    const jtis = new Set(Array.from({ length: 50 }, () => s.issue('a', 'b', [], NOW).claims.jti));
    assert.equal(jtis.size, 50);
  });

  test('jwtVerify accepts the token for the right issuer and audience and refuses others', async () => {
    const t = new TokenSigner(es, opts('thumbprint')).issue('alice', 'registry.test', []);
    const { payload } = await jwtVerify(t.token, es.publicKey, {
      issuer: 'purser-test',
      audience: 'registry.test',
      typ: 'JWT',
    });
    assert.equal(payload.sub, 'alice');
    await assert.rejects(jwtVerify(t.token, es.publicKey, { audience: 'other' }));
    await assert.rejects(jwtVerify(t.token, es.publicKey, { issuer: 'other' }));
    await assert.rejects(jwtVerify(t.token, (await key('ES256')).publicKey));
  });

  test('the issued token is not yet valid before nbf and expired after exp (jose, frozen clock)', async () => {
    const t = new TokenSigner(es, opts('libtrust')).issue('alice', 'registry.test', [], NOW);
    const iat = Math.floor(NOW / 1000);
    await jwtVerify(t.token, es.publicKey, { currentDate: new Date(NOW) });
    await assert.rejects(
      jwtVerify(t.token, es.publicKey, { currentDate: new Date((iat + 301) * 1000) }),
      /exp/,
    );
    await assert.rejects(
      jwtVerify(t.token, es.publicKey, { currentDate: new Date((iat - 5) * 1000) }),
      /nbf/,
    );
  });

  test('RS256: header, signature length 256 and verification', async () => {
    const t = new TokenSigner(rs, opts('libtrust')).issue(
      'bob',
      'registry.test',
      [{ type: 'repository', name: 'a', actions: ['pull'] }],
      NOW,
    );
    const d = decodeJwt(t.token);
    assert.deepEqual(d.header, { alg: 'RS256', typ: 'JWT', kid: rs.libtrustKid });
    assert.equal(d.signature.length, 256);
    const { payload } = await jwtVerify(t.token, rs.publicKey, { currentDate: new Date(NOW) });
    assert.equal(payload.sub, 'bob');
  });

  test('signClaims with a custom header keeps alg and typ unless overridden', () => {
    const s = new TokenSigner(es, opts('libtrust'));
    const tok = s.signClaims({ a: 1 }, { typ: 'x+jwt', kid: 'k1' });
    assert.deepEqual(decodeProtectedHeader(tok), { alg: 'ES256', typ: 'x+jwt', kid: 'k1' });
  });
});

describe('KeyRing', async () => {
  const a = await key('ES256');
  const b = await key('RS256');

  test('the first key signs; every key is in the JWKS with kid per mode, use, alg', () => {
    const ring = new KeyRing([a, b], opts('libtrust'));
    assert.equal(ring.signer.key, a);
    const jwks = ring.jwks();
    assert.equal(jwks.keys.length, 2);
    assert.equal(jwks.keys[0]?.kid, a.libtrustKid);
    assert.equal(jwks.keys[1]?.kid, b.libtrustKid);
    assert.equal(jwks.keys[0]?.alg, 'ES256');
    assert.equal(jwks.keys[1]?.alg, 'RS256');
    assert.equal(jwks.keys[0]?.use, 'sig');
    for (const k of jwks.keys) assert.equal(k.d, undefined);
    assert.deepEqual(jwks.keys[0]?.x5c, a.x5c);
  });

  test('thumbprint and x5c modes publish the thumbprint as kid', () => {
    assert.equal(new KeyRing([a], opts('thumbprint')).jwks().keys[0]?.kid, a.thumbprint);
    assert.equal(new KeyRing([a], opts('x5c')).jwks().keys[0]?.kid, a.thumbprint);
  });

  test('byThumbprint finds any key of the ring and nothing else', () => {
    const ring = new KeyRing([a, b], opts('libtrust'));
    assert.equal(ring.byThumbprint(b.thumbprint), b);
    assert.equal(ring.byThumbprint(a.libtrustKid), undefined);
    assert.equal(ring.byThumbprint('nope'), undefined);
  });

  test('an empty ring is refused', () => {
    assert.throws(() => new KeyRing([], opts('libtrust')));
  });
});
