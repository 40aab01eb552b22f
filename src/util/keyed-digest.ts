import { createHmac } from 'node:crypto';

/**
 * A fixed-size (22 characters, 128 bits) HMAC-SHA-256 of `parts` under `key`, for map keys
 * and fingerprints built from caller-chosen strings: a 64 KiB username costs what a short
 * one does, and without the key nobody can compute (or brute-force offline) the digest.
 * Each part is length-prefixed, so ("a\0b", "c") and ("a", "b\0c") differ.
 */
export function keyedDigest(key: Buffer | string, ...parts: string[]): string {
  return createHmac('sha256', key).update(lengthPrefixed(parts)).digest('base64url').slice(0, 22);
}

/**
 * `parts` as one string, each after its UTF-8 length and a colon, so no two lists of parts
 * give the same string. Hashed with one update: each update is a call into C++, and the
 * login path hashes keys built this way several times per request.
 */
export function lengthPrefixed(parts: readonly string[]): string {
  let out = '';
  for (const p of parts) out += `${Buffer.byteLength(p)}:${p}`;
  return out;
}
