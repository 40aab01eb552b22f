import { jsonString } from '../util/json-string.js';
import type { TokenResponse } from './token-service.js';

/**
 * `JSON.stringify(r)`, byte for byte, for a response built as TokenService builds it (the
 * fields in the order TokenResponse declares them). The token is most of the response and is
 * sent twice (`token` and `access_token`, for old and OAuth2 clients); JSON.stringify checks it
 * character by character for escapes, ~25 k instructions, about 5 % of a whole token request,
 * where jsonString checks it once against one character class.
 */
export function tokenResponseJson(r: TokenResponse): string {
  const token = jsonString(r.token);
  const access = r.access_token === r.token ? token : jsonString(r.access_token);
  const refresh = r.refresh_token === undefined ? '' : `,"refresh_token":${jsonString(r.refresh_token)}`;
  return `{"token":${token},"access_token":${access},"expires_in":${JSON.stringify(r.expires_in)},"issued_at":${jsonString(r.issued_at)}${refresh}}`;
}
