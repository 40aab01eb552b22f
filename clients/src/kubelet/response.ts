// The CredentialProviderResponse for a pass-through answer. The kubelet decodes it with a
// strict codec, so exactly these fields; cacheKeyType Registry because the credential is the
// same for every image of the registry (the kubelet's Token cacheType keys it by token too).
import { HelperError } from '../errors.js';
import { jwtExpiry, nowSeconds } from '../jwt.js';
import { formatGoDuration } from './duration.js';
import { API_VERSION } from './request.js';

/** Seconds before `exp` the kubelet must stop using a cached answer (clock skew, a pull in flight). */
export const EXPIRY_MARGIN_SECONDS = 60;

export interface CredentialProviderResponse {
  apiVersion: typeof API_VERSION;
  kind: 'CredentialProviderResponse';
  cacheKeyType: 'Registry';
  cacheDuration: string;
  auth: Record<string, { username: string; password: string }>;
}

/** How long the kubelet may cache an answer carrying `token`; throws TOKEN_INVALID when it is unusable. */
export function cacheSeconds(token: string, maxCacheSeconds: number, now: number = nowSeconds()): number {
  const exp = jwtExpiry(token);
  if (exp === undefined)
    throw new HelperError('TOKEN_INVALID', 'serviceAccountToken is not a JWT with a numeric exp');
  if (exp <= now) throw new HelperError('TOKEN_INVALID', `serviceAccountToken expired ${now - exp}s ago`);
  // Under the margin the token still serves this pull, but must not be cached.
  return Math.max(0, Math.min(maxCacheSeconds, exp - now - EXPIRY_MARGIN_SECONDS));
}

export function passThroughResponse(
  registry: string,
  username: string,
  token: string,
  cacheDurationSeconds: number,
): CredentialProviderResponse {
  return {
    apiVersion: API_VERSION,
    kind: 'CredentialProviderResponse',
    cacheKeyType: 'Registry',
    cacheDuration: formatGoDuration(cacheDurationSeconds),
    auth: { [registry]: { username, password: token } },
  };
}
