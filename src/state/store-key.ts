import { createHash } from 'node:crypto';
import { lengthPrefixed } from '../util/keyed-digest.js';

/**
 * A fixed-size stand-in for a key a memory store keeps (22 characters): whatever a caller
 * passes (Purser passes keyed hashes already), an entry costs the same, so the store's
 * bounds in entries and bytes are real.
 */
export function storeKey(...parts: string[]): string {
  // A login asks for the same one up to three times (slot, check, release): short keys are
  // remembered, in a map cleared whenever it fills (at most 4,096 entries of ≤ 128 + 22 chars).
  const single = parts.length === 1 ? parts[0]! : undefined;
  if (single !== undefined && single.length <= 128) {
    const known = recent.get(single);
    if (known !== undefined) return known;
    const key = digest(parts);
    if (recent.size >= 4096) recent.clear();
    recent.set(single, key);
    return key;
  }
  return digest(parts);
}

const recent = new Map<string, string>();

function digest(parts: string[]): string {
  return createHash('sha256').update(lengthPrefixed(parts)).digest('base64url').slice(0, 22);
}
