// GitHub Actions: the job's ID token, requested from the runner's endpoint for an audience.
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';
import { decodeJwtPayload } from '../jwt.js';
import { NAME, VERSION } from '../version.js';

export const GITHUB_PERMISSION_HINT =
  'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: the workflow or job needs `permissions: id-token: write` (pull requests from forks never get an ID token)';

/** `{"value": JWT}` is a few KiB: a larger answer is not the ID token endpoint's. */
export const MAX_RESPONSE_BYTES = 256 * 1024;

/** The body as text ('' when reading it fails); undefined past `max` bytes, the rest unread. */
async function boundedText(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    // Leaving the loop early cancels the stream: the connection is not read to its end.
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > max) return undefined;
      chunks.push(chunk);
    }
  } catch {
    return '';
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface FetchOptions {
  /** Per attempt, milliseconds. */
  timeoutMs?: number;
  attempts?: number;
}

/**
 * Requests a GitHub Actions ID token for `audience`, as actions/toolkit does: GET the request
 * URL plus `audience`, `Authorization: Bearer <request token>`; the answer is `{"value": JWT}`.
 * Network errors and 5xx answers are retried.
 */
export async function fetchGithubIdToken(
  env: Env,
  audience: string,
  opts: FetchOptions = {},
): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !requestToken) throw new HelperError('SOURCE_UNAVAILABLE', GITHUB_PERMISSION_HINT);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HelperError('SOURCE_UNAVAILABLE', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  u.searchParams.set('audience', audience);
  const attempts = opts.attempts ?? 3;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** i));
    let res: Response;
    try {
      res = await fetch(u, {
        headers: {
          authorization: `Bearer ${requestToken}`,
          accept: 'application/json; api-version=2.0',
          'user-agent': `${NAME}/${VERSION}`,
        },
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      last = `request failed: ${(e as Error).message}`;
      continue;
    }
    const text = await boundedText(res, MAX_RESPONSE_BYTES);
    if (text === undefined) {
      throw new HelperError(
        'SOURCE_FAILED',
        `GitHub ID token request: the answer (HTTP ${res.status}) is larger than ${MAX_RESPONSE_BYTES / 1024} KiB`,
      );
    }
    if (res.status >= 500) {
      last = `HTTP ${res.status}`;
      continue;
    }
    if (res.status !== 200) {
      throw new HelperError(
        'SOURCE_FAILED',
        `GitHub ID token request for audience ${JSON.stringify(audience)} refused: HTTP ${res.status} ${text.slice(0, 200).trim()}`,
      );
    }
    let value: unknown;
    try {
      value = (JSON.parse(text) as { value?: unknown }).value;
    } catch {
      throw new HelperError('TOKEN_INVALID', 'GitHub ID token response is not JSON');
    }
    if (typeof value !== 'string' || decodeJwtPayload(value) === undefined) {
      throw new HelperError('TOKEN_INVALID', 'GitHub ID token response has no JWT in "value"');
    }
    return value;
  }
  throw new HelperError(
    'SOURCE_FAILED',
    `GitHub ID token request failed after ${attempts} attempts: ${last}`,
  );
}
