// Reads a compact JWT's payload without verifying anything: the client tools only need `exp`,
// `iat` and `aud` to decide when to fetch a new token (Purser verifies the signature).
// Shared by docker-credential-purser, the GitHub Action and the kubelet credential provider.
import { isRecord } from './env.js';

/** The payload of a compact JWT; undefined when it is not one. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const p = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    return isRecord(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** `exp` as a number, or undefined. */
export function jwtExpiry(token: string): number | undefined {
  const exp = decodeJwtPayload(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
}

/**
 * Whether a token may still be handed out at `now`: it must be valid for `refreshBefore` more
 * seconds, a margin capped at half its lifetime (`exp - iat`) so short-lived tokens are reused too.
 */
export function isFresh(token: string, refreshBefore: number, now: number = nowSeconds()): boolean {
  const p = decodeJwtPayload(token);
  const exp = p?.exp;
  if (typeof exp !== 'number') return false;
  let margin = refreshBefore;
  if (typeof p?.iat === 'number' && exp > p.iat) margin = Math.min(margin, Math.floor((exp - p.iat) / 2));
  return now < exp - margin;
}

/** `aud` as a list (a string claim is one audience). */
export function audiencesOf(token: string): string[] {
  const aud = decodeJwtPayload(token)?.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}
