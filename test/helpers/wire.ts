// A tiny HTTP/1.1 client for registry conformance checks: no redirects followed, no header
// added or dropped behind the test's back (fetch sets and forbids some), one connection per
// request so one case cannot leave state on a pooled socket for the next.
import { request } from 'node:http';
import { connect } from 'node:net';

export interface WireResponse {
  status: number;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** The connection closed before the body announced by the head was complete. */
  truncated?: boolean;
}

export interface WireRequest {
  method: string;
  /** Absolute URL. */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  timeoutMs?: number;
}

export function wire(req: WireRequest): Promise<WireResponse> {
  const u = new URL(req.url);
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  const has = (name: string): boolean => Object.keys(headers).some((h) => h.toLowerCase() === name);
  // With Transfer-Encoding: chunked the body goes out as chunks of at most 1000 bytes.
  const chunked = has('transfer-encoding');
  if (body !== undefined && !chunked && !has('content-length'))
    headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: u.hostname,
        port: u.port,
        method: req.method,
        path: `${u.pathname}${u.search}`,
        headers,
        agent: false,
        timeout: req.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const done = (truncated: boolean): void => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
          }
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: h, body, ...(truncated ? { truncated } : {}) });
        };
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(false));
        // The head arrived but the body did not (distribution 2.8 answers 416 with a
        // Content-Length it never sends): still an answer, marked as cut short.
        res.on('error', () => done(true));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`${req.method} ${req.url}: no answer in time`)));
    r.on('error', reject);
    if (chunked && body) {
      for (let off = 0; off < body.length; off += 1000) r.write(body.subarray(off, off + 1000));
      r.end();
    } else r.end(body);
  });
}

export interface RawExchange {
  /** Everything the server sent, as latin1 text (bodies here are JSON or empty). */
  text: string;
  /** Status codes of every response head seen, in order (e.g. [100, 201]). */
  statuses: number[];
  /** Whether the request body was written (only after 100 Continue when `expectContinue`). */
  bodySent: boolean;
}

/**
 * Writes `head` (request line and headers, no blank line) on a fresh socket and then, unless
 * `expectContinue`, the body; with `expectContinue` the body is written only once the server
 * answers `100 Continue`. Resolves when the server has sent a final response and closed or
 * gone quiet for `quietMs`.
 */
export function rawExchange(
  hostPort: { host: string; port: number },
  head: string,
  body: Buffer,
  opts: { expectContinue?: boolean; quietMs?: number; timeoutMs?: number } = {},
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const sock = connect(hostPort.port, hostPort.host);
    let text = '';
    let bodySent = false;
    let quiet: NodeJS.Timeout | undefined;
    const statuses = (): number[] =>
      [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
    const finish = (): void => {
      clearTimeout(quiet);
      clearTimeout(overall);
      sock.destroy();
      resolve({ text, statuses: statuses(), bodySent });
    };
    const overall = setTimeout(finish, opts.timeoutMs ?? 10_000);
    const finalSeen = (): boolean => statuses().some((s) => s >= 200);
    sock.setEncoding('latin1');
    sock.on('connect', () => {
      sock.write(`${head}\r\n\r\n`);
      if (!opts.expectContinue) {
        sock.write(body);
        bodySent = true;
      }
    });
    sock.on('data', (d: string) => {
      text += d;
      if (opts.expectContinue && !bodySent && statuses().includes(100) && !finalSeen()) {
        sock.write(body);
        bodySent = true;
      }
      if (finalSeen()) {
        clearTimeout(quiet);
        quiet = setTimeout(finish, opts.quietMs ?? 300);
      }
    });
    sock.on('end', finish);
    sock.on('error', (e) => {
      if (text) finish();
      else {
        clearTimeout(overall);
        reject(e);
      }
    });
  });
}
