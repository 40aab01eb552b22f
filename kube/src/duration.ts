// Durations on the command line, Go's way (`90s`, `10m`, `1h30m`, `500ms`), or bare seconds.
import { KubeControllerError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(flag: string, text: string): number {
  const bare = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : undefined;
  if (bare !== undefined) return bare;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = re.lastIndex;
  }
  if (end === 0 || end !== text.length)
    throw new KubeControllerError(
      'USAGE',
      `--${flag}: not a duration: ${JSON.stringify(text)} (use 90s, 10m, 1h)`,
    );
  return total;
}
