/**
 * Typed errors with stable codes. `status` is what an HTTP caller sees; `message` is safe to
 * show to that caller (it never contains a secret); `detail` is for the operator's log only.
 */
export type PurserErrorCode =
  | 'INVALID_SCOPE'
  | 'INVALID_REQUEST'
  | 'UNSUPPORTED_GRANT_TYPE'
  | 'UNKNOWN_SERVICE'
  | 'UNAUTHORIZED'
  | 'TOO_MANY_ATTEMPTS'
  | 'INVALID_CONFIG'
  | 'INVALID_KEY'
  | 'UNAVAILABLE';

const STATUS: Record<PurserErrorCode, number> = {
  INVALID_SCOPE: 400,
  INVALID_REQUEST: 400,
  UNSUPPORTED_GRANT_TYPE: 400,
  UNKNOWN_SERVICE: 400,
  UNAUTHORIZED: 401,
  TOO_MANY_ATTEMPTS: 429,
  INVALID_CONFIG: 500,
  INVALID_KEY: 500,
  UNAVAILABLE: 503,
};

export class PurserError extends Error {
  readonly code: PurserErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  constructor(code: PurserErrorCode, message: string, options?: { detail?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PurserError';
    this.code = code;
    this.status = STATUS[code];
    this.detail = options?.detail;
  }
}

/** A configuration problem: names the file and the key path at fault. */
export class ConfigError extends PurserError {
  readonly file: string | undefined;
  readonly path: string;
  constructor(file: string | undefined, path: string, problem: string) {
    super('INVALID_CONFIG', `${file ?? '<config>'}: ${path ? `${path}: ` : ''}${problem}`);
    this.name = 'ConfigError';
    this.file = file;
    this.path = path;
  }
}

export function isPurserError(e: unknown): e is PurserError {
  return e instanceof PurserError;
}
