// When to refresh a token: at about half of its REMAINING life as the API server granted it
// (the returned expirationTimestamp, which may be shorter than asked for), jittered ±10 % so
// the controller's refreshes of many ServiceAccounts do not bunch up.

/** The earliest a refresh is scheduled (a token granted for seconds still is not hammered). */
export const MIN_REQUEUE_MS = 1000;

export function refreshDelayMs(expiresAt: Date, now: number, random: () => number = Math.random): number {
  const remaining = expiresAt.getTime() - now;
  const jitter = 0.9 + 0.2 * random();
  return Math.max(MIN_REQUEUE_MS, Math.floor((remaining / 2) * jitter));
}

/** Exponential backoff with full jitter in [base/2, base]: 1 s, 2 s, 4 s … up to max. */
export function backoffMs(
  failures: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.floor(base / 2 + (base / 2) * random());
}
