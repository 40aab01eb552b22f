import { hkdfSync } from 'node:crypto';
import type { SigningKey } from './keys.js';

const derived = new WeakMap<SigningKey, Buffer>();

/**
 * The secret that keys credential fingerprints in refresh tokens, derived (HKDF-SHA-256)
 * from a signing key's private key. Every replica with the same `token.keys` derives the same
 * secret, it survives restarts, and nobody without the private key can test password guesses
 * against a fingerprint. Each refresh token's fingerprint uses the key that signed it, so
 * adding a new first key keeps outstanding refresh tokens valid while the old key stays in
 * `token.keys`; removing a key revokes the tokens it signed, as it always did.
 */
export function fingerprintKey(key: SigningKey): Buffer {
  let k = derived.get(key);
  if (!k) {
    const ikm = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    k = Buffer.from(hkdfSync('sha256', ikm, 'purser', 'purser credential fingerprint v1', 32));
    derived.set(key, k);
  }
  return k;
}
