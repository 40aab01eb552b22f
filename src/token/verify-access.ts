import { errors as joseErrors, jwtVerify } from 'jose';
import { PurserError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { KeyRing } from './keyring.js';
import { identityFromClaims } from './proxy-identity.js';
import type { AccessEntry } from './signer.js';

export interface VerifiedAccessToken {
  sub: string;
  access: AccessEntry[];
  exp: number;
  /** The token's id, for the audit log ("" when absent). */
  jti: string;
  /** The caller's identity, when the token carries it (proxy-identity.ts). */
  identity?: Identity;
}

/**
 * Verifies one of Purser's own registry tokens (as the proxy receives them), the way a
 * registry would: a key of ours (by kid or x5c leaf), our issuer, the expected service,
 * exp/nbf with distribution's 60 s leeway.
 */
export async function verifyAccessToken(
  ring: KeyRing,
  token: string,
  issuer: string,
  service: string,
): Promise<VerifiedAccessToken> {
  if (token.length > 64 * 1024) throw new PurserError('UNAUTHORIZED', 'invalid token: too long');
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = ring.keys.find(
          (k) =>
            (header.kid !== undefined && (k.libtrustKid === header.kid || k.thumbprint === header.kid)) ||
            (header.x5c?.[0] !== undefined && k.x5c?.[0] === header.x5c[0]),
        );
        if (!key) throw new PurserError('UNAUTHORIZED', 'invalid token: not signed by this server');
        return key.publicKey;
      },
      {
        issuer,
        audience: service,
        algorithms: ['ES256', 'RS256'],
        clockTolerance: 60,
        requiredClaims: ['exp'],
        typ: 'JWT',
      },
    );
    const access = Array.isArray(payload.access) ? (payload.access as AccessEntry[]) : [];
    const identity = identityFromClaims(payload);
    return {
      sub: typeof payload.sub === 'string' ? payload.sub : '',
      access,
      exp: payload.exp!,
      jti: typeof payload.jti === 'string' ? payload.jti : '',
      ...(identity ? { identity } : {}),
    };
  } catch (e) {
    if (e instanceof PurserError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw new PurserError('UNAUTHORIZED', 'token expired');
    throw new PurserError(
      'UNAUTHORIZED',
      `invalid token (${e instanceof joseErrors.JOSEError ? e.code : 'malformed'})`,
    );
  }
}

/** True when the token's access list covers every action of `actions` on type:name. */
export function covers(
  access: readonly AccessEntry[],
  type: string,
  name: string,
  actions: readonly string[],
): boolean {
  const granted = new Set<string>();
  for (const a of access) {
    if (a.type === type && a.name === name && Array.isArray(a.actions))
      for (const x of a.actions) granted.add(x);
  }
  if (granted.has('*')) return true;
  return actions.every((a) => granted.has(a));
}
