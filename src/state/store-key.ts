import { createHash } from 'node:crypto';
import { lengthPrefixed } from '../util/keyed-digest.js';

/**
 * A fixed-size stand-in for a key a memory store keeps (22 characters): whatever a caller
 * passes (Purser passes keyed hashes already), an entry costs the same, so the store's
 * bounds in entries and bytes are real.
 */
export function storeKey(...parts: string[]): string {
  return createHash('sha256').update(lengthPrefixed(parts)).digest('base64url').slice(0, 22);
}
