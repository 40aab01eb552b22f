import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { selfSignedCertificate } from '../../../src/token/certificate.js';
import { jwkThumbprint, libtrustKeyId } from '../../../src/token/keyid.js';
import { generateSigningKeyPair, loadSigningKey, signingKeyFromPem } from '../../../src/token/keys.js';
import { purserError, tempDir, writeFile } from '../support.js';

const pem = (k: KeyObject, type: 'pkcs8' | 'sec1' | 'pkcs1' = 'pkcs8') =>
  k.export({ type, format: 'pem' }) as string;

describe('generateSigningKeyPair', () => {
  test('ES256: 300 keys, none with a leading zero byte in x or y, all P-256', () => {
    for (let i = 0; i < 300; i++) {
      const { publicKey } = generateSigningKeyPair('ES256');
      assert.equal(publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      const jwk = publicKey.export({ format: 'jwk' });
      const x = Buffer.from(jwk.x!, 'base64url');
      const y = Buffer.from(jwk.y!, 'base64url');
      assert.equal(x.length, 32);
      assert.equal(y.length, 32);
      assert.notEqual(x[0], 0, `x starts with 0 at iteration ${i}`);
      assert.notEqual(y[0], 0, `y starts with 0 at iteration ${i}`);
    }
  });

  test('RS256: 2048-bit RSA', () => {
    const { privateKey, publicKey } = generateSigningKeyPair('RS256');
    assert.equal(privateKey.asymmetricKeyType, 'rsa');
    assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  });
});

describe('signingKeyFromPem', () => {
  const ec = generateSigningKeyPair('ES256');
  const rsa = generateSigningKeyPair('RS256');

  test('ES256 key: alg, ids, jwk', async () => {
    const k = await signingKeyFromPem(pem(ec.privateKey), undefined, 'k.pem');
    assert.equal(k.alg, 'ES256');
    assert.equal(k.libtrustKid, libtrustKeyId(ec.publicKey));
    assert.equal(k.thumbprint, await jwkThumbprint(ec.publicKey));
    assert.equal(k.x5c, undefined);
    assert.equal(k.jwk.kty, 'EC');
    assert.equal(k.jwk.crv, 'P-256');
    assert.equal(k.jwk.d, undefined, 'the published JWK must not hold the private part');
  });

  test('SEC1 and PKCS#1 PEMs are accepted too', async () => {
    assert.equal((await signingKeyFromPem(pem(ec.privateKey, 'sec1'), undefined, 'k')).alg, 'ES256');
    const r = await signingKeyFromPem(pem(rsa.privateKey, 'pkcs1'), undefined, 'k');
    assert.equal(r.alg, 'RS256');
    assert.equal(r.jwk.d, undefined);
    assert.equal(r.jwk.p, undefined);
  });

  test('with its certificate: x5c is the base64 DER chain, leaf first', async () => {
    const certPem = selfSignedCertificate(ec.privateKey, ec.publicKey);
    const other = generateSigningKeyPair('ES256');
    const caPem = selfSignedCertificate(other.privateKey, other.publicKey, { commonName: 'ca' });
    const k = await signingKeyFromPem(pem(ec.privateKey), certPem + caPem, 'k.pem');
    assert.equal(k.x5c?.length, 2);
    assert.equal(k.x5c?.[0], new X509Certificate(certPem).raw.toString('base64'));
    assert.equal(k.x5c?.[1], new X509Certificate(caPem).raw.toString('base64'));
  });

  test('refuses P-384', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    await assert.rejects(
      signingKeyFromPem(pem(privateKey), undefined, 'p384.pem'),
      purserError('INVALID_KEY', 'p384.pem', 'P-256'),
    );
  });

  test('refuses RSA-1024', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await assert.rejects(
      signingKeyFromPem(pem(privateKey), undefined, 'rsa1024.pem'),
      purserError('INVALID_KEY', 'rsa1024.pem', '2048'),
    );
  });

  test('refuses Ed25519', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await assert.rejects(
      signingKeyFromPem(pem(privateKey), undefined, 'ed.pem'),
      purserError('INVALID_KEY', 'ed.pem', 'unsupported key type'),
    );
  });

  test('refuses a certificate for another key', async () => {
    const other = generateSigningKeyPair('ES256');
    const certPem = selfSignedCertificate(other.privateKey, other.publicKey);
    await assert.rejects(
      signingKeyFromPem(pem(ec.privateKey), certPem, 'k.pem'),
      purserError('INVALID_KEY', 'not for this private key'),
    );
  });

  test('refuses a certificate file without certificates', async () => {
    await assert.rejects(
      signingKeyFromPem(pem(ec.privateKey), 'hello', 'k.pem'),
      purserError('INVALID_KEY', 'no PEM certificate'),
    );
  });

  test('refuses text that is not a private key (a public key, garbage)', async () => {
    const pubPem = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await assert.rejects(
      signingKeyFromPem(pubPem, undefined, 'pub.pem'),
      purserError('INVALID_KEY', 'pub.pem'),
    );
    await assert.rejects(
      signingKeyFromPem('not a key', undefined, 'junk.pem'),
      purserError('INVALID_KEY', 'junk.pem', 'not a PEM private key'),
    );
  });

  // Regression (a raw OpenSSL Error escaped; fixed in 2ee9ea3).
  test('a corrupt certificate block is an INVALID_KEY error naming the file', async () => {
    const corrupt = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    await assert.rejects(
      signingKeyFromPem(pem(ec.privateKey), corrupt, 'k.pem'),
      purserError('INVALID_KEY', 'k.pem'),
    );
  });
});

describe('loadSigningKey', () => {
  test('reads key and certificate files', async () => {
    const t = tempDir();
    try {
      const { privateKey, publicKey } = generateSigningKeyPair('ES256');
      const kp = writeFile(t.dir, 'token.key', pem(privateKey));
      const cp = writeFile(t.dir, 'token.crt', selfSignedCertificate(privateKey, publicKey));
      const k = await loadSigningKey(kp, cp);
      assert.equal(k.libtrustKid, libtrustKeyId(publicKey));
      assert.equal(k.x5c?.length, 1);
    } finally {
      t.cleanup();
    }
  });

  test('a missing file is INVALID_KEY naming the path and errno', async () => {
    const t = tempDir();
    try {
      const missing = join(t.dir, 'nope.key');
      await assert.rejects(loadSigningKey(missing, undefined), purserError('INVALID_KEY', missing, 'ENOENT'));
    } finally {
      t.cleanup();
    }
  });
});

describe('selfSignedCertificate', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    test(`${alg}: parses, is self-signed, verifies with its public key, carries the right key`, () => {
      const { privateKey, publicKey } = generateSigningKeyPair(alg);
      const now = Date.now();
      const certPem = selfSignedCertificate(privateKey, publicKey, {
        commonName: 'unit test signer',
        days: 30,
      });
      const cert = new X509Certificate(certPem);
      assert.ok(cert.verify(publicKey));
      assert.equal(cert.issuer, cert.subject);
      assert.equal(cert.subject, 'CN=unit test signer');
      assert.equal(cert.ca, false);
      assert.deepEqual(
        cert.publicKey.export({ type: 'spki', format: 'der' }),
        publicKey.export({ type: 'spki', format: 'der' }),
      );
      const from = Date.parse(cert.validFrom);
      const to = Date.parse(cert.validTo);
      assert.ok(from <= now && from > now - 10 * 60_000, cert.validFrom);
      assert.ok(Math.abs(to - from - 30 * 86_400_000) < 5_000, `${cert.validFrom} .. ${cert.validTo}`);
      // Does not verify with another key.
      assert.equal(cert.verify(generateSigningKeyPair('ES256').publicKey), false);
    });
  }

  test('default validity is ten years and a validity past 2049 still parses (GeneralizedTime)', () => {
    const { privateKey, publicKey } = generateSigningKeyPair('ES256');
    const cert = new X509Certificate(selfSignedCertificate(privateKey, publicKey, { days: 365 * 40 }));
    assert.ok(new Date(cert.validTo).getUTCFullYear() >= 2060);
    const def = new X509Certificate(selfSignedCertificate(privateKey, publicKey));
    const years = (Date.parse(def.validTo) - Date.parse(def.validFrom)) / (365.25 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, String(years));
  });

  test('serial numbers differ between certificates', () => {
    const { privateKey, publicKey } = generateSigningKeyPair('ES256');
    const a = new X509Certificate(selfSignedCertificate(privateKey, publicKey));
    const b = new X509Certificate(selfSignedCertificate(privateKey, publicKey));
    assert.notEqual(a.serialNumber, b.serialNumber);
  });

  test('the key in the certificate has the same libtrust id as the key itself', () => {
    const { privateKey, publicKey } = generateSigningKeyPair('ES256');
    const cert = new X509Certificate(selfSignedCertificate(privateKey, publicKey));
    assert.equal(
      libtrustKeyId(createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' }))),
      libtrustKeyId(publicKey),
    );
  });
});
