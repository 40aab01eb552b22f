import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import { PurserError } from '../core/errors.js';
import { pemValueLabel, readPemValue, splitPemCertificates } from '../util/pem-value.js';
import { shown } from '../util/redact.js';
import { jwkThumbprint, libtrustKeyId } from './keyid.js';

export type SigningAlgorithm = 'ES256' | 'RS256';

/** A token signing key with every form of its id a registry may ask for. */
export interface SigningKey {
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** distribution 2.x kid. */
  libtrustKid: string;
  /** RFC 7638 thumbprint, distribution 3.x kid. */
  thumbprint: string;
  /** Base64 DER certificate chain, leaf first, when a certificate was given. */
  x5c: string[] | undefined;
  /** The public JWK (without kid). */
  jwk: JWK;
}

function algorithmOf(key: KeyObject, where: string): SigningAlgorithm {
  if (key.asymmetricKeyType === 'ec') {
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new PurserError(
        'INVALID_KEY',
        `${where}: EC keys must be P-256 (ES256); got ${key.asymmetricKeyDetails?.namedCurve}`,
      );
    }
    return 'ES256';
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048)
      throw new PurserError('INVALID_KEY', `${where}: RSA keys must have at least 2048 bits; got ${bits}`);
    return 'RS256';
  }
  throw new PurserError(
    'INVALID_KEY',
    `${where}: unsupported key type ${key.asymmetricKeyType}; use P-256 (ES256) or RSA (RS256)`,
  );
}

/** Builds a SigningKey from PEM text. `where` names the source in errors. */
export async function signingKeyFromPem(
  keyPem: string,
  certPem: string | undefined,
  where: string,
): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (e) {
    throw new PurserError('INVALID_KEY', `${where}: not a PEM private key (${(e as Error).message})`);
  }
  const alg = algorithmOf(privateKey, where);
  const publicKey = createPublicKey(privateKey);
  let x5c: string[] | undefined;
  if (certPem !== undefined) {
    const blocks = splitPemCertificates(certPem);
    if (blocks.length === 0)
      throw new PurserError('INVALID_KEY', `${where}: certificate file holds no PEM certificate`);
    const certs = blocks.map((b, i) => {
      try {
        return new X509Certificate(b);
      } catch (e) {
        throw new PurserError(
          'INVALID_KEY',
          `${where}: certificate ${i + 1} in the certificate file is not valid X.509 (${(e as Error).message})`,
        );
      }
    });
    const leafKey = certs[0]!.publicKey.export({ type: 'spki', format: 'der' });
    if (!leafKey.equals(publicKey.export({ type: 'spki', format: 'der' }))) {
      throw new PurserError('INVALID_KEY', `${where}: the certificate is not for this private key`);
    }
    x5c = certs.map((c) => c.raw.toString('base64'));
  }
  const jwk = await exportJWK(publicKey);
  return {
    alg,
    privateKey,
    publicKey,
    libtrustKid: libtrustKeyId(publicKey),
    thumbprint: await jwkThumbprint(publicKey),
    x5c,
    jwk,
  };
}

export async function loadSigningKey(keyPath: string, certPath: string | undefined): Promise<SigningKey> {
  const read = (p: string) => {
    try {
      return readPemValue(p);
    } catch (e) {
      throw new PurserError(
        'INVALID_KEY',
        `${shown(pemValueLabel(p))}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
  };
  return signingKeyFromPem(
    read(keyPath),
    certPath === undefined ? undefined : read(certPath),
    shown(pemValueLabel(keyPath)),
  );
}

/**
 * Generates a key pair. P-256 keys whose x or y coordinate starts with a zero byte are
 * drawn again: distribution 3.1 strips leading zeros before thumbprinting, so such a key
 * would get a different kid there than RFC 7638 gives.
 */
export function generateSigningKeyPair(alg: SigningAlgorithm): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  if (alg === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  for (;;) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const x = Buffer.from(jwk.x!, 'base64url');
    const y = Buffer.from(jwk.y!, 'base64url');
    if (x.length === 32 && y.length === 32 && x[0] !== 0 && y[0] !== 0) return pair;
  }
}
