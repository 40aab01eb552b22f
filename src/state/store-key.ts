import { createHash } from 'node:crypto';

/**
 * A fixed-size stand-in for a key a memory store keeps (22 characters): whatever a caller
 * passes (Purser passes keyed hashes already), an entry costs the same, so the store's
 * bounds in entries and bytes are real.
 */
export function storeKey(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p);
  return h.digest('base64url').slice(0, 22);
}
