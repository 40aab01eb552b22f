/**
 * Typed errors with stable codes, and the one registry that says, for every code, what an
 * HTTP caller sees. `message` is safe to show to that caller (it never contains a secret);
 * `detail` is for the operator's log only. docs/errors.md lists every code of the registry
 * (a test keeps the two equal).
 */

/** An OAuth 2.0 token endpoint error (RFC 6749 §5.2), for `POST /token` refusals. */
export type OAuthError =
  | 'invalid_request'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'unsupported_grant_type'
  | 'temporarily_unavailable'
  | 'server_error';

/** What a code means to an HTTP caller. */
export interface ErrorCodeInfo {
  readonly status: number;
  /** The `error` field of a `POST /token` refusal. */
  readonly oauth: OAuthError;
  /** The challenge the answer carries by default (`WWW-Authenticate`), if any. */
  readonly challenge: 'basic' | undefined;
  /** One line on when it happens; docs/errors.md carries it verbatim. */
  readonly summary: string;
}

const REGISTRY = {
  INVALID_SCOPE: {
    status: 400,
    oauth: 'invalid_scope',
    challenge: undefined,
    summary: 'a requested scope is malformed or over a limit',
  },
  INVALID_REQUEST: {
    status: 400,
    oauth: 'invalid_request',
    challenge: undefined,
    summary: 'a parameter, header or body of the request is malformed',
  },
  UNSUPPORTED_GRANT_TYPE: {
    status: 400,
    oauth: 'unsupported_grant_type',
    challenge: undefined,
    summary: 'a grant_type other than password or refresh_token',
  },
  UNKNOWN_SERVICE: {
    status: 400,
    oauth: 'invalid_request',
    challenge: undefined,
    summary: 'the service asked for is not one this server issues tokens for',
  },
  UNAUTHORIZED: {
    status: 401,
    oauth: 'invalid_grant',
    challenge: 'basic',
    summary: 'the credentials or the refresh token were refused',
  },
  DENIED: {
    status: 403,
    oauth: 'invalid_grant',
    challenge: undefined,
    summary: 'the caller is known but may not have a token at all',
  },
  TOO_MANY_ATTEMPTS: {
    status: 429,
    oauth: 'temporarily_unavailable',
    challenge: undefined,
    summary: 'too many failed logins from this address for this username',
  },
  TOO_MANY_UPLOADS: {
    status: 429,
    oauth: 'temporarily_unavailable',
    challenge: undefined,
    summary: 'the proxy: one account has proxy.uploadsPerAccount uploads in flight already',
  },
  UNAVAILABLE: {
    status: 503,
    oauth: 'temporarily_unavailable',
    challenge: undefined,
    summary: 'a dependency (an identity provider) cannot be reached',
  },
  NOT_FOUND: {
    status: 404,
    oauth: 'invalid_request',
    challenge: undefined,
    summary: 'no such route',
  },
  UNSUPPORTED: {
    status: 405,
    oauth: 'invalid_request',
    challenge: undefined,
    summary: 'a method the route does not take',
  },
  UNKNOWN: {
    status: 500,
    oauth: 'server_error',
    challenge: undefined,
    summary: 'a bug; the process keeps serving',
  },
  INVALID_CONFIG: {
    status: 500,
    oauth: 'server_error',
    challenge: undefined,
    summary: 'the configuration is unreadable or invalid',
  },
  INVALID_KEY: {
    status: 500,
    oauth: 'server_error',
    challenge: undefined,
    summary: 'a signing key cannot be used',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type PurserErrorCode = keyof typeof REGISTRY;

/** Every code with its status, OAuth error, challenge and summary. */
export const ERROR_CODES: Readonly<Record<PurserErrorCode, ErrorCodeInfo>> = Object.freeze(REGISTRY);

export class PurserError extends Error {
  readonly code: PurserErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  constructor(code: PurserErrorCode, message: string, options?: { detail?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PurserError';
    this.code = code;
    this.status = REGISTRY[code].status;
    this.detail = options?.detail;
  }

  /**
   * Headers this error's HTTP answer carries besides the body and its code's default
   * challenge: a subclass's own challenge, `Retry-After`.
   */
  responseHeaders(): Record<string, string> {
    return {};
  }
}

/** A refusal that writes its own `WWW-Authenticate` (distribution's challenge error). */
export class ChallengeError extends PurserError {
  readonly challenge: string;
  constructor(message: string, challenge: string, options?: { detail?: string; cause?: unknown }) {
    super('UNAUTHORIZED', message, options);
    this.name = 'ChallengeError';
    this.challenge = challenge;
  }

  override responseHeaders(): Record<string, string> {
    return { 'www-authenticate': this.challenge };
  }
}

/** Too many failed logins: the answer says when to try again (`Retry-After`). */
export class TooManyAttempts extends PurserError {
  /** Seconds until the next attempt is accepted. */
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super('TOO_MANY_ATTEMPTS', `too many failed logins; retry in ${retryAfter} s`);
    this.name = 'TooManyAttempts';
    this.retryAfter = retryAfter;
  }

  override responseHeaders(): Record<string, string> {
    return { 'retry-after': String(this.retryAfter) };
  }
}

/** The proxy's per-account upload cap is reached: the answer says when to try again. */
export class TooManyUploads extends PurserError {
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super('TOO_MANY_UPLOADS', 'too many uploads in flight for this account');
    this.name = 'TooManyUploads';
    this.retryAfter = retryAfter;
  }

  override responseHeaders(): Record<string, string> {
    return { 'retry-after': String(this.retryAfter) };
  }
}

/** The caller is known and may not have a token at all (a disabled account, say): 403. */
export class Denied extends PurserError {
  constructor(message: string, options?: { detail?: string; cause?: unknown }) {
    super('DENIED', message, options);
    this.name = 'Denied';
  }
}

/**
 * A registry API refusal that distribution names with its own errcode (`NAME_INVALID`,
 * `UNSUPPORTED` with 400…): the proxy's answers to requests the registry would refuse or
 * parse differently. `code` gives the status; `registryCode` is what the body says.
 */
export class RegistryRefusal extends PurserError {
  readonly registryCode: string;
  constructor(code: PurserErrorCode, registryCode: string, message: string) {
    super(code, message);
    this.name = 'RegistryRefusal';
    this.registryCode = registryCode;
  }
}

/** A configuration problem: names the file and the key path at fault. */
export class ConfigError extends PurserError {
  readonly file: string | undefined;
  readonly path: string;
  /** The message without the file and key. */
  readonly problem: string;
  constructor(file: string | undefined, path: string, problem: string) {
    super('INVALID_CONFIG', `${file ?? '<config>'}: ${path ? `${path}: ` : ''}${problem}`);
    this.name = 'ConfigError';
    this.file = file;
    this.path = path;
    this.problem = problem;
  }
}

export function isPurserError(e: unknown): e is PurserError {
  return e instanceof PurserError;
}
