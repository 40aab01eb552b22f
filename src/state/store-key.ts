import { createHash } from 'node:crypto';
import { lengthPrefixed } from '../util/keyed-digest.js';
import { shortMemo } from '../util/short-memo.js';

/**
 * A fixed-size stand-in for a key a memory store keeps (22 characters): whatever a caller
 * passes (Purser passes keyed hashes already), an entry costs the same, so the store's
 * bounds in entries and bytes are real.
 */
export function storeKey(...parts: string[]): string {
  return parts.length === 1 ? single(parts[0]!) : digest(parts);
}

function digest(parts: string[]): string {
  return createHash('sha256').update(lengthPrefixed(parts)).digest('base64url').slice(0, 22);
}

// A login asks for the same one up to three times (slot, check, release): short keys' digests
// are remembered.
const single = shortMemo((key) => digest([key]), 128);
