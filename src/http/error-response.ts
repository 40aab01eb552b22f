import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type PurserError, type PurserErrorCode, RegistryRefusal } from '../core/errors.js';
import { basicChallenge } from '../protocol/responses.js';

export const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
} as const;

/** Options of {@link errorAnswer}. */
export interface ErrorAnswerOptions {
  realm: string;
  /** Add RFC 6749's `error`/`error_description` (token endpoint POSTs). */
  oauth: boolean;
  /**
   * Speak distribution's errcodes, as the registry API does (the proxy): its clients know
   * `TOOMANYREQUESTS`, not Purser's own 429 codes.
   */
  registry?: boolean;
}

/** Purser codes that distribution's API spells otherwise. */
const REGISTRY_CODES: Partial<Record<PurserErrorCode, string>> = {
  TOO_MANY_ATTEMPTS: 'TOOMANYREQUESTS',
  TOO_MANY_UPLOADS: 'TOOMANYREQUESTS',
};

/** The code an error's body carries. */
function bodyCode(e: PurserError, registry: boolean): string {
  if (e instanceof RegistryRefusal) return e.registryCode;
  return (registry ? REGISTRY_CODES[e.code] : undefined) ?? e.code;
}

export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The HTTP answer for an error: the registry-style body (distribution's `errors` array),
 * plus, for OAuth2 clients (containerd posts to the token endpoint), RFC 6749 §5.2's
 * `error` and `error_description`; the headers the error asks for (its challenge,
 * `Retry-After`).
 */
export function errorAnswer(e: PurserError, opts: ErrorAnswerOptions): ErrorAnswer {
  const body: Record<string, unknown> = {
    errors: [{ code: bodyCode(e, opts.registry ?? false), message: e.message }],
  };
  if (opts.oauth) {
    body.error = ERROR_CODES[e.code].oauth;
    body.error_description = e.message;
  }
  const headers: Record<string, string> = { ...JSON_HEADERS, ...e.responseHeaders() };
  if (ERROR_CODES[e.code].challenge === 'basic' && !headers['www-authenticate'])
    headers['www-authenticate'] = basicChallenge(opts.realm);
  return { status: e.status, headers, body: JSON.stringify(body) };
}

/** Writes `errorAnswer(e)`; `extra` headers (`allow`, `connection`) are added. */
export function writeError(
  res: ServerResponse,
  e: PurserError,
  opts: ErrorAnswerOptions & { headers?: Record<string, string> },
): void {
  if (res.destroyed || res.headersSent) return;
  const a = errorAnswer(e, opts);
  res.writeHead(a.status, { ...a.headers, ...opts.headers }).end(a.body);
}
