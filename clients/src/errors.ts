/** A failure that ends a client command with its message (exit code 1, or the Action's `::error`). */
export class HelperError extends Error {
  override name = 'HelperError';
}
