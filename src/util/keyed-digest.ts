import { createHmac } from 'node:crypto';

/**
 * A fixed-size (22 characters, 128 bits) HMAC-SHA-256 of `parts` under `key`, for map keys
 * and fingerprints built from caller-chosen strings: a 64 KiB username costs what a short
 * one does, and without the key nobody can compute (or brute-force offline) the digest.
 * Each part is length-prefixed, so ("a\0b", "c") and ("a", "b\0c") differ.
 */
export function keyedDigest(key: Buffer | string, ...parts: string[]): string {
  // One update of the length-prefixed parts (each update is a call into C++: on the login
  // path this runs twice per request).
  let input = '';
  for (const p of parts) input += `${Buffer.byteLength(p)}:${p}`;
  return createHmac('sha256', key).update(input).digest('base64url').slice(0, 22);
}
