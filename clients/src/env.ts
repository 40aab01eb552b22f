/** An environment as the tools read it: process.env, or a test's own object. */
export type Env = Record<string, string | undefined>;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
