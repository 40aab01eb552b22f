import { PurserError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import { parseScopes, type Scope } from './scope.js';

export type Grant = 'get' | 'password' | 'refresh_token';

/** A token request after parsing, independent of GET/POST. */
export interface TokenRequest {
  grant: Grant;
  service: string | undefined;
  scopes: Scope[];
  account: string | undefined;
  clientId: string | undefined;
  /** The client asked for a refresh token (GET offline_token=true, POST access_type=offline). */
  offline: boolean;
  credentials: { username: string; password: Secret } | undefined;
  refreshToken: Secret | undefined;
}

const MAX_FIELD = 8192;
// Passwords may be workload JWTs; the verifier refuses those over 16 KiB with a clear 401,
// so the request parser lets them through to it.
const MAX_SECRET_FIELD = 64 * 1024;

function bad(message: string): PurserError {
  return new PurserError('INVALID_REQUEST', message);
}

/** The single value of a parameter; repeated with different values is an error. */
function one(params: URLSearchParams, name: string, max = MAX_FIELD): string | undefined {
  const all = params.getAll(name);
  if (all.length === 0) return undefined;
  const first = all[0]!;
  if (all.some((v) => v !== first)) throw bad(`parameter ${name} given more than once with different values`);
  if (first.length > max) throw bad(`parameter ${name} is too long`);
  return first;
}

function bool(params: URLSearchParams, name: string): boolean {
  const v = one(params, name);
  if (v === undefined || v === '') return false;
  const l = v.toLowerCase();
  if (l === 'true' || l === '1') return true;
  if (l === 'false' || l === '0') return false;
  throw bad(`parameter ${name} must be true or false`);
}

/** Whether `text` is the canonical padded base64 of `bytes`. */
function sameBase64(bytes: Buffer, text: string): boolean {
  return bytes.toString('base64') === text;
}

/**
 * Parses an `Authorization: Basic` header. Returns undefined when there is no header.
 * Other schemes (a registry Bearer token sent to the token endpoint) are ignored, as
 * distribution's token servers do; a malformed Basic header is a 400.
 */
export function parseBasicAuth(
  header: string | undefined,
): { username: string; password: Secret } | undefined {
  if (header === undefined || header === '') return undefined;
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  if (scheme !== 'basic') return undefined;
  const b64 = header.slice(sp + 1).trim();
  if (b64.length === 0 || b64.length > MAX_SECRET_FIELD) throw bad('malformed Basic Authorization header');
  const bytes = Buffer.from(b64, 'base64');
  // Node's decoder skips what is not base64, so the text is checked. Encoding the bytes again
  // and finding the same text proves it, at a third of the regex's cost on the kilobytes of a
  // workload JWT (bench/README.md, seventh scale-out stop); text that is not canonical base64
  // (unpadded, or stray low bits at the end) is then judged by the regex.
  if (!sameBase64(bytes, b64) && !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw bad('malformed Basic Authorization header');
  }
  const decoded = bytes.toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw bad('malformed Basic Authorization header: no ":" between username and password');
  const username = decoded.slice(0, colon);
  if (username === '') throw bad('malformed Basic Authorization header: empty username');
  return { username, password: new Secret(decoded.slice(colon + 1)) };
}

/** `GET /token?service=…&scope=…&account=…&offline_token=…&client_id=…` */
export function parseGetTokenRequest(
  query: URLSearchParams,
  authorization: string | undefined,
): TokenRequest {
  const credentials = parseBasicAuth(authorization);
  const account = one(query, 'account');
  if (credentials && account !== undefined && account !== '' && account !== credentials.username) {
    throw bad(`account ${JSON.stringify(account)} does not match the authenticated user`);
  }
  return {
    grant: 'get',
    service: one(query, 'service'),
    scopes: parseScopes(query.getAll('scope')),
    account: account === '' ? undefined : account,
    clientId: one(query, 'client_id'),
    offline: bool(query, 'offline_token'),
    credentials,
    refreshToken: undefined,
  };
}

/** `POST /token` with an OAuth2 form body (RFC 6749 §4.3 password, §6 refresh_token). */
export function parsePostTokenRequest(
  form: URLSearchParams,
  authorization: string | undefined,
): TokenRequest {
  const grantType = one(form, 'grant_type');
  const base = {
    service: one(form, 'service'),
    scopes: parseScopes(form.getAll('scope')),
    clientId: one(form, 'client_id'),
    offline: one(form, 'access_type') === 'offline',
  };
  if (grantType === 'password') {
    const username = one(form, 'username');
    const password = one(form, 'password', MAX_SECRET_FIELD);
    let credentials: TokenRequest['credentials'];
    if (username !== undefined && username !== '') {
      credentials = { username, password: new Secret(password ?? '') };
    } else {
      // Some clients put the credentials in a Basic header instead of the form.
      credentials = parseBasicAuth(authorization);
    }
    if (!credentials) throw bad('grant_type=password needs username and password');
    return {
      ...base,
      grant: 'password',
      account: credentials.username,
      credentials,
      refreshToken: undefined,
    };
  }
  if (grantType === 'refresh_token') {
    const token = one(form, 'refresh_token', MAX_SECRET_FIELD);
    if (token === undefined || token === '') throw bad('grant_type=refresh_token needs refresh_token');
    return {
      ...base,
      grant: 'refresh_token',
      account: undefined,
      credentials: undefined,
      refreshToken: new Secret(token),
    };
  }
  if (grantType === undefined) throw bad('missing grant_type');
  throw new PurserError(
    'UNSUPPORTED_GRANT_TYPE',
    `unsupported grant_type ${JSON.stringify(grantType.slice(0, 40))}: use password or refresh_token`,
  );
}
