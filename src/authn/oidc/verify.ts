import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { PurserError } from '../../core/errors.js';
import type { KeySet } from './key-set.js';

export const MAX_JWT_LENGTH = 16 * 1024;
const JWT_RE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(s: string): boolean {
  return s.length <= MAX_JWT_LENGTH * 4 && JWT_RE.test(s);
}

/** Reads (without trusting) a JWT's header and payload, to choose a provider. */
export function peekJwt(
  token: string,
): { header: Record<string, unknown>; payload: Record<string, unknown> } | undefined {
  const [h, p] = token.split('.');
  try {
    const header: unknown = JSON.parse(Buffer.from(h!, 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object') return undefined;
    return { header: header as Record<string, unknown>, payload: payload as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

export interface VerifyPolicy {
  issuer: string;
  audiences: string[];
  algorithms: string[];
  clockSkew: number;
  maxTokenAge: number | undefined;
}

const refuse = (why: string) => new PurserError('UNAUTHORIZED', why);

/**
 * Verifies a workload JWT against an explicit policy: the algorithm allow-list, exact `iss`,
 * a required `aud`, `exp` (+ `nbf`, `iat`) with the skew, optional maximum age, and a
 * signature by one of the issuer's own keys. Header fields that would let the token pick
 * its key (`jku`, `x5u`, an embedded `jwk`, `x5c`) are never used.
 */
export async function verifyWorkloadJwt(
  token: string,
  keys: KeySet,
  policy: VerifyPolicy,
  trace?: string[],
): Promise<JWTPayload> {
  if (token.length > MAX_JWT_LENGTH)
    throw refuse(`token too large (${token.length} bytes, at most ${MAX_JWT_LENGTH})`);
  if (!JWT_RE.test(token)) throw refuse('malformed token: not a compact JWS');
  try {
    const { payload } = await jwtVerify(token, keys.resolve, {
      issuer: policy.issuer,
      audience: policy.audiences,
      algorithms: policy.algorithms,
      clockTolerance: policy.clockSkew,
      requiredClaims: ['exp', 'iss', 'aud'],
      ...(policy.maxTokenAge ? { maxTokenAge: policy.maxTokenAge } : {}),
    });
    trace?.push(`signature: verified with a key published by ${policy.issuer}`);
    trace?.push(
      `claims: iss, aud, exp${payload.nbf !== undefined ? ', nbf' : ''}${payload.iat !== undefined ? ', iat' : ''} valid (skew ${policy.clockSkew} s)`,
    );
    return payload;
  } catch (e) {
    if (e instanceof PurserError) throw e;
    throw refuse(explainJoseError(e, token));
  }
}

function explainJoseError(e: unknown, token: string): string {
  // jose reports maxTokenAge as an expiry of `iat`: name the age, not `exp`.
  if (e instanceof joseErrors.JWTExpired) return e.claim === 'iat' ? 'token too old (iat)' : 'token expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return 'token not yet valid (nbf)';
      case 'aud':
        return e.reason === 'missing' ? 'token has no aud claim' : 'token is for another audience (aud)';
      case 'iss':
        return e.reason === 'missing' ? 'token has no iss claim' : 'token from another issuer (iss)';
      case 'exp':
        return 'token has no valid exp claim';
      case 'iat':
        return e.reason === 'check_failed' ? 'token too old (iat)' : 'token has no valid iat claim';
      default:
        return `claim ${e.claim} invalid`;
    }
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) {
    const alg = peekJwt(token)?.header.alg;
    return `signature algorithm ${JSON.stringify(alg)} not allowed`;
  }
  if (e instanceof joseErrors.JWKSNoMatchingKey) {
    const kid = peekJwt(token)?.header.kid;
    return `signed by a key the issuer does not publish${kid === undefined ? '' : ` (kid ${JSON.stringify(String(kid).slice(0, 80))})`}`;
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed)
    return "signature does not verify with the issuer's keys";
  if (e instanceof joseErrors.JOSENotSupported) return 'unsupported token (algorithm or critical header)';
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid)
    return `malformed token (${(e as Error).message})`;
  if (e instanceof joseErrors.JOSEError) return `token refused (${e.code})`;
  return 'malformed token';
}
