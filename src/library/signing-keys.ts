import type { KeyObject } from 'node:crypto';
import { PurserError } from '../core/errors.js';
import { type SigningKey, signingKeyFromPem } from '../token/keys.js';

/**
 * A token signing key held in memory: a PEM private key, a private `KeyObject`, or either
 * with its PEM certificate (chain), for `token.keyId: x5c`. P-256 (ES256) or RSA ≥ 2048 bits.
 */
export type SigningKeyInput = string | KeyObject | { key: string | KeyObject; certificate?: string };

function pemOf(key: string | KeyObject, where: string): string {
  if (typeof key === 'string') return key;
  if (key.type !== 'private') {
    throw new PurserError('INVALID_KEY', `${where}: a ${key.type} key cannot sign; give the private key`);
  }
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The keys in the order given: the first signs, all are published. */
export async function toSigningKeys(inputs: readonly SigningKeyInput[]): Promise<SigningKey[]> {
  if (inputs.length === 0) throw new PurserError('INVALID_KEY', 'signingKeys: at least one key is needed');
  return Promise.all(
    inputs.map((input, i) => {
      const where = `signingKeys[${i}]`;
      const pair = typeof input === 'object' && 'key' in input ? input : { key: input };
      return signingKeyFromPem(pemOf(pair.key, where), pair.certificate, where);
    }),
  );
}
