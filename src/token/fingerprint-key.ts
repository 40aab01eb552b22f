import { hkdfSync } from 'node:crypto';
import type { SigningKey } from './keys.js';

/** What a secret derived from a signing key keys; each purpose gets its own secret. */
export type SecretPurpose = 'credential fingerprint' | 'throttle' | 'login cache' | 'catalog cursor';

const derived = new WeakMap<SigningKey, Map<SecretPurpose, Buffer>>();

/**
 * A secret derived (HKDF-SHA-256) from a signing key's private key, one per purpose. Every
 * replica with the same `token.keys` derives the same secret, it survives restarts, and
 * nobody without the private key can compute (or test guesses against) what it keys.
 */
export function derivedSecret(key: SigningKey, purpose: SecretPurpose): Buffer {
  let byPurpose = derived.get(key);
  if (!byPurpose) {
    byPurpose = new Map();
    derived.set(key, byPurpose);
  }
  let k = byPurpose.get(purpose);
  if (!k) {
    const ikm = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    k = Buffer.from(hkdfSync('sha256', ikm, 'purser', `purser ${purpose} v1`, 32));
    byPurpose.set(purpose, k);
  }
  return k;
}

/**
 * The secret that keys credential fingerprints in refresh tokens. Each refresh token's
 * fingerprint uses the key that signed it, so adding a new first key keeps outstanding
 * refresh tokens valid while the old key stays in `token.keys`; removing a key revokes the
 * tokens it signed, as it always did.
 */
export function fingerprintKey(key: SigningKey): Buffer {
  return derivedSecret(key, 'credential fingerprint');
}
