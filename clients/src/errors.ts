/**
 * Stable codes of the client tools' failures, for callers that act on the kind (the Action,
 * the kubelet credential provider) rather than on the message, which is for people.
 */
export type ClientErrorCode =
  /** The helper's config file or PURSER_* environment is wrong. */
  | 'CONFIG_INVALID'
  /** An input of the GitHub Action is wrong. */
  | 'INPUT_INVALID'
  /** A JSON file to edit (the docker config) cannot be read or is not a JSON object. */
  | 'FILE_INVALID'
  /** No token source here: variables, file or permission missing. */
  | 'SOURCE_UNAVAILABLE'
  /** The source is there but failed: the ID-token endpoint refused or broke, the command failed. */
  | 'SOURCE_FAILED'
  /** What the source gave is no usable JWT: not one, or expired. */
  | 'TOKEN_INVALID';

/** A failure that ends a client command with its message (exit code 1, or the Action's `::error`). */
export class HelperError extends Error {
  override name = 'HelperError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}
