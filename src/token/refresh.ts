import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { PurserError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { KeyRing } from './keyring.js';
import type { SigningKey } from './keys.js';

/**
 * Refresh tokens are JWTs signed with Purser's own key: stateless (any replica with the key
 * can check them), bound to one identity, and never usable as a registry token (their `aud`
 * is not a service and they carry no `access`). They are not rotated on use: docker keeps
 * the identity token it got at login and sends it again for every pull and push.
 */
const TYP = 'purser-rt+jwt';
const AUDIENCE = 'purser-refresh';

export interface RefreshClaims {
  sub: string;
  /** Identity kind / provider name. */
  prv: string;
  /** The authenticator's binding (a static user's credential fingerprint): a change revokes the token. */
  cfp?: string;
  /** The kind of the authenticator that issued it; absent in tokens from before it was named. */
  ath?: string;
  jti?: string;
  /** Issued at, epoch seconds. */
  iat: number;
  lbl?: Record<string, string>;
  clm?: Record<string, unknown>;
}

export function issueRefreshToken(
  ring: KeyRing,
  issuer: string,
  identity: Identity,
  extra: { cfp?: string; ath?: string },
  lifetime: number,
): string {
  const iat = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: issuer,
    aud: AUDIENCE,
    sub: identity.account,
    prv: identity.provider,
    iat,
    exp: iat + lifetime,
    jti: randomBytes(16).toString('base64url'),
  };
  if (extra.cfp !== undefined) claims.cfp = extra.cfp;
  if (extra.ath !== undefined) claims.ath = extra.ath;
  if (Object.keys(identity.labels).length > 0) claims.lbl = identity.labels;
  if (Object.keys(identity.claims).length > 0) claims.clm = identity.claims;
  const key = ring.signer.key;
  return ring.signer.signClaims(claims, { typ: TYP, kid: key.thumbprint });
}

/** Verifies a refresh token's signature, type and lifetime. Identity checks are the caller's. */
export async function verifyRefreshToken(
  ring: KeyRing,
  issuer: string,
  token: string,
): Promise<RefreshClaims> {
  if (token.length > 64 * 1024) throw new PurserError('UNAUTHORIZED', 'invalid refresh token: too long');
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = header.kid === undefined ? undefined : ring.byThumbprint(header.kid);
        if (!key) throw new PurserError('UNAUTHORIZED', 'invalid refresh token: signed by an unknown key');
        return key.publicKey;
      },
      {
        issuer,
        audience: AUDIENCE,
        typ: TYP,
        algorithms: ['ES256', 'RS256'],
        requiredClaims: ['exp', 'sub'],
      },
    );
    if (typeof payload.prv !== 'string' || typeof payload.sub !== 'string') {
      throw new PurserError('UNAUTHORIZED', 'invalid refresh token: malformed claims');
    }
    const iat = typeof payload.iat === 'number' ? payload.iat : 0;
    const out: RefreshClaims = { sub: payload.sub, prv: payload.prv, iat };
    if (typeof payload.cfp === 'string') out.cfp = payload.cfp;
    if (typeof payload.ath === 'string') out.ath = payload.ath;
    if (typeof payload.jti === 'string') out.jti = payload.jti;
    if (payload.lbl && typeof payload.lbl === 'object') out.lbl = payload.lbl as Record<string, string>;
    if (payload.clm && typeof payload.clm === 'object') out.clm = payload.clm as Record<string, unknown>;
    return out;
  } catch (e) {
    if (e instanceof PurserError) throw e;
    if (e instanceof joseErrors.JWTExpired)
      throw new PurserError('UNAUTHORIZED', 'refresh token expired: log in again');
    const why = e instanceof joseErrors.JOSEError ? e.code : 'malformed';
    throw new PurserError('UNAUTHORIZED', `invalid refresh token (${why})`);
  }
}

/**
 * The key that signed a refresh token (call after `verifyRefreshToken` accepted it): its
 * credential fingerprint is keyed with a secret derived from that key.
 */
export function refreshTokenSigner(ring: KeyRing, token: string): SigningKey | undefined {
  const { kid } = decodeProtectedHeader(token);
  return typeof kid === 'string' ? ring.byThumbprint(kid) : undefined;
}
