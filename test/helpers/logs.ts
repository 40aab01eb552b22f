// Attaching server logs to a failing test's error, so a failure explains itself.

export interface LogSource {
  name: string;
  logs(): string;
}

function tail(s: string, max: number): string {
  return s.length <= max ? s : `...(${s.length - max} chars cut)...\n${s.slice(-max)}`;
}

/** Wraps a test body: when it throws, the tail of each source's log is appended to the error message. */
export function withLogs(
  sources: () => (LogSource | undefined)[],
  fn: () => Promise<void>,
  max = 6_000,
): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      let extra = '';
      for (const s of sources()) {
        if (s) extra += `\n===== ${s.name} log (tail) =====\n${tail(s.logs(), max)}`;
      }
      if (e instanceof Error) {
        e.message += extra;
        throw e;
      }
      throw new Error(`${String(e)}${extra}`);
    }
  };
}
