import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { jwkThumbprint, libtrustKeyId } from '../../../src/token/keyid.js';

// The example key of distribution's JWT token spec (docs/spec/auth/jwt.md, "This example
// signature will use the following ECDSA key for the server"), with the kid the spec gives it.
const DISTRIBUTION_EXAMPLE = {
  kid: 'PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6',
  jwk: {
    kty: 'EC',
    crv: 'P-256',
    x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q',
    y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc',
  },
};

// RFC 7638 §3.1 example RSA key and its thumbprint.
const RFC7638 = {
  jwk: {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  },
  thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
};

describe('libtrustKeyId', () => {
  test("distribution JWT spec example key gives the spec's kid", () => {
    const key = createPublicKey({ key: DISTRIBUTION_EXAMPLE.jwk, format: 'jwk' });
    assert.equal(libtrustKeyId(key), DISTRIBUTION_EXAMPLE.kid);
  });

  test('the same key as a private key object gives the same id', () => {
    const priv = createPublicKey({
      key: { ...DISTRIBUTION_EXAMPLE.jwk, d: 'R7OnbfMaD5J2jl7GeE8ESo7CnHSBm_1N2k9IXYFrKJA' },
      format: 'jwk',
    });
    assert.equal(libtrustKeyId(priv), DISTRIBUTION_EXAMPLE.kid);
  });

  test('format: 12 groups of 4 base32 characters, and it is the first 240 bits of SHA-256(SPKI)', () => {
    for (const type of ['ec', 'rsa'] as const) {
      const { publicKey } =
        type === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          : generateKeyPairSync('rsa', { modulusLength: 1024 });
      const id = libtrustKeyId(publicKey);
      assert.match(id, /^[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}$/);
      // Independent base32 decode must give back the digest prefix.
      const b32 = id.replaceAll(':', '');
      let bits = '';
      for (const ch of b32)
        bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(ch).toString(2).padStart(5, '0');
      const bytes = Buffer.from(bits.match(/.{8}/g)!.map((b) => Number.parseInt(b, 2)));
      const digest = createHash('sha256')
        .update(publicKey.export({ type: 'spki', format: 'der' }))
        .digest();
      assert.deepEqual(bytes, digest.subarray(0, 30));
    }
  });

  test('different keys give different ids', () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const b = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    assert.notEqual(libtrustKeyId(a), libtrustKeyId(b));
  });
});

describe('jwkThumbprint', () => {
  test('RFC 7638 §3.1 example', async () => {
    const key = createPublicKey({ key: RFC7638.jwk, format: 'jwk' });
    assert.equal(await jwkThumbprint(key), RFC7638.thumbprint);
  });

  test('EC thumbprint over the required members crv, kty, x, y in order', async () => {
    const key = createPublicKey({ key: DISTRIBUTION_EXAMPLE.jwk, format: 'jwk' });
    const { crv, kty, x, y } = DISTRIBUTION_EXAMPLE.jwk;
    const expected = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
    assert.equal(await jwkThumbprint(key), expected);
  });

  test('is base64url without padding, 43 characters', async () => {
    const t = await jwkThumbprint(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
    assert.match(t, /^[A-Za-z0-9_-]{43}$/);
  });
});
