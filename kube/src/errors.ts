// The controller's typed errors: a stable code and a message safe to log (never a token).

export type KubeControllerErrorCode =
  /** A flag is missing or malformed (exit 2). */
  | 'USAGE'
  /** The kubeconfig (or the in-cluster service account) cannot be loaded. */
  | 'KUBECONFIG'
  /** The API server refused or failed a call. */
  | 'API'
  /** The API answered with something the controller cannot use. */
  | 'BAD_ANSWER'
  /** The Secret the controller would write exists and belongs to someone else. */
  | 'SECRET_CONFLICT';

export class KubeControllerError extends Error {
  override name = 'KubeControllerError';
  constructor(
    readonly code: KubeControllerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status of a failed client-node call, if it was one. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

/**
 * One line for a failed API call: the HTTP status and the Status object's reason and message
 * (bodies of refusals never carry a token: a TokenRequest's token is only in a 201's body).
 */
export function describeApiError(op: string, err: unknown): string {
  const code = statusOf(err);
  if (code === undefined) return `${op}: ${(err as Error)?.message ?? String(err)}`.slice(0, 400);
  let detail = '';
  const body = (err as { body?: unknown }).body;
  try {
    const s = (typeof body === 'string' ? JSON.parse(body) : body) as { reason?: string; message?: string };
    if (s && typeof s === 'object') detail = [s.reason, s.message].filter(Boolean).join(': ');
  } catch {
    // A body that is not a Status: the code alone says enough.
  }
  return `${op}: HTTP ${code}${detail ? ` ${detail}` : ''}`.slice(0, 400);
}
