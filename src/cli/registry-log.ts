// The development registry's log lines, shortened for a terminal and prefixed `[registry]`.

/** Longest line passed on; a longer one (a Go stack line, a huge URI) is cut. */
export const MAX_LINE = 1_000;

/** Fields of distribution's logrus lines worth a developer's eye; the rest is noise here. */
const KEEP: Record<string, string> = {
  'http.request.method': 'method',
  'http.request.uri': 'uri',
  'http.response.status': 'status',
  'auth.user.name': 'user',
  'err.code': 'err',
  'err.message': 'error',
  'err.detail': 'detail',
  error: 'error',
  'vars.name': 'repo',
  'vars.reference': 'ref',
};

/** `key=value` and `key="quoted \" value"` tokens of a logrus text line. */
const FIELD = /([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)/g;

/**
 * `time="…" level=info msg="response completed" go.version=… http.request.method=GET …`
 * becomes `[registry] response completed method=GET uri=/v2/ status=401` (level shown unless
 * info). Lines that are not logrus text (a panic) pass through as they are. Never throws.
 */
export function shortenRegistryLine(line: string): string {
  const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
  if (!text.startsWith('time=')) return `[registry] ${text}`;
  let level = '';
  let msg = '';
  const kept: string[] = [];
  for (const m of text.matchAll(FIELD)) {
    const key = m[1]!;
    const raw = m[2]!;
    const value = raw.startsWith('"') ? unquote(raw) : raw;
    if (key === 'level') level = value;
    else if (key === 'msg') msg = value;
    else if (KEEP[key] !== undefined && value !== '') kept.push(`${KEEP[key]}=${raw}`);
  }
  const head = level && level !== 'info' ? `${level}: ` : '';
  return `[registry] ${head}${msg}${kept.length ? ` ${kept.join(' ')}` : ''}`;
}

function unquote(s: string): string {
  try {
    return JSON.parse(s) as string;
  } catch {
    return s.slice(1, -1);
  }
}

/**
 * Splits a byte stream into lines for `emit`. The partial line held between chunks is capped
 * at MAX_LINE * 4 characters, so a child that never prints a newline cannot grow it.
 */
export function lineSplitter(emit: (line: string) => void): { push(chunk: string): void; end(): void } {
  let partial = '';
  return {
    push(chunk) {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        emit(partial.slice(0, nl).replace(/\r$/, ''));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
      }
      if (partial.length > MAX_LINE * 4) {
        emit(partial);
        partial = '';
      }
    },
    end() {
      if (partial) emit(partial);
      partial = '';
    },
  };
}
