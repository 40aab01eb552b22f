// Go's time.Duration text, the form the kubelet's CredentialProviderResponse.cacheDuration and
// our --max-cache flag use (metav1.Duration is parsed by Go's time.ParseDuration).
const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Whole seconds of a Go duration string ("90s", "1h30m", "1.5h"); undefined when not one or negative. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '' || text.length > 64) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
  }
  return Number.isFinite(total) ? Math.floor(total + 1e-9) : undefined;
}

/** Whole seconds as Go's Duration.String() prints them: "0s", "45s", "5m0s", "1h0m0s". */
export function formatGoDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${m}m${rest}s`;
  if (m > 0) return `${m}m${rest}s`;
  return `${rest}s`;
}
