import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * The download path for blobs (the bulk of a registry's bytes), over plain TCP to an
 * http:// upstream. Node's usual socket reads allocate a fresh 64 KiB buffer per read; at
 * gigabytes per second that churn makes the allocator hand memory back to the kernel and
 * fault it in again, halving throughput (bench/proxy/README.md). Here every read lands in
 * one reused buffer per download (`onread`), each chunk is written to the client and the
 * upstream socket stays paused until that write has been flushed, so the buffer is never
 * overwritten while the client socket still holds a view of it.
 *
 * Only the simple, common case is handled: a 200/206 answer with a Content-Length. For
 * anything else (`chunked`, redirects, errors) it gives up before sending a byte to the
 * client and the caller repeats the request — a GET — on its general path.
 */

const BUFFER_SIZE = 256 * 1024;
const MAX_HEAD = 64 * 1024;

export interface BlobDownload {
  host: string;
  port: number;
  /** Request head lines after the request line, without the final blank line. */
  headers: Record<string, string | string[]>;
  path: string;
  /** Response headers to forward, after hop-by-hop removal; may be rewritten in place. */
  prepare: (status: number, headers: Record<string, string | string[]>) => void;
}

export type BlobOutcome =
  | { kind: 'done'; status: number; bytes: number }
  | { kind: 'fallback'; reason: string }
  | { kind: 'failed'; status: number; bytes: number; error: Error };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Idle limit, as on the general path: a stalled upstream does not hold the client forever.
const IDLE_MS = 5 * 60_000;

const HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'proxy-authenticate',
]);

function parseHead(head: string): { status: number; headers: Record<string, string | string[]> } | undefined {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return undefined;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    if (!TOKEN.test(k) || /[^\t\x20-\x7e\x80-\xff]/.test(v)) return undefined;
    const prev = headers[k];
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { status: Number(m[1]), headers };
}

export function downloadBlob(res: ServerResponse, d: BlobDownload): Promise<BlobOutcome> {
  return new Promise((resolve) => {
    const buffer = Buffer.allocUnsafe(BUFFER_SIZE);
    let head: Buffer[] | undefined = [];
    let headSize = 0;
    let remaining = 0;
    let bytes = 0;
    let status = 0;
    let settled = false;
    let socket: Socket;

    const finish = (o: BlobOutcome) => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      socket.destroy();
      resolve(o);
    };
    const onClientClose = () => {
      if (!res.writableFinished)
        finish({ kind: 'failed', status, bytes, error: new Error('client went away') });
    };

    const writeBody = (chunk: Buffer): boolean => {
      const n = Math.min(chunk.length, remaining);
      if (n === 0) return true;
      remaining -= n;
      bytes += n;
      const last = remaining === 0;
      res.write(chunk.subarray(0, n), (err) => {
        if (err) return finish({ kind: 'failed', status, bytes, error: err });
        if (last) {
          res.end();
          finish({ kind: 'done', status, bytes });
        } else if (!settled) socket.resume();
      });
      return false; // paused until the write above is flushed: `buffer` is reused
    };

    const onHeadBytes = (chunk: Buffer): boolean => {
      // The head is copied out of the shared buffer before anything else reads into it.
      head!.push(Buffer.from(chunk));
      headSize += chunk.length;
      const all = Buffer.concat(head!, headSize);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (headSize > MAX_HEAD) finish({ kind: 'fallback', reason: 'response head too large' });
        return true;
      }
      head = undefined;
      const parsed = parseHead(all.subarray(0, end).toString('latin1'));
      if (!parsed) {
        finish({ kind: 'fallback', reason: 'unparsable response head' });
        return false;
      }
      const len = Number(parsed.headers['content-length']);
      if (
        (parsed.status !== 200 && parsed.status !== 206) ||
        parsed.headers['transfer-encoding'] !== undefined ||
        !Number.isSafeInteger(len) ||
        len <= 0
      ) {
        finish({ kind: 'fallback', reason: `status ${parsed.status}` });
        return false;
      }
      status = parsed.status;
      remaining = len;
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(parsed.headers)) if (!HOP.has(k)) out[k] = v;
      d.prepare(status, out);
      res.writeHead(status, out);
      const rest = all.subarray(end + 4);
      if (rest.length === 0) return true;
      return writeBody(rest);
    };

    socket = connect({
      host: d.host,
      port: d.port,
      noDelay: true,
      onread: {
        buffer,
        callback: (n) => {
          if (settled) return false;
          const chunk = buffer.subarray(0, n); // `buf` is `buffer`
          try {
            return head ? onHeadBytes(chunk) : writeBody(chunk);
          } catch (e) {
            // e.g. writeHead refusing a header the upstream sent: never let it escape the
            // socket callback (it would take the process down).
            if (!res.headersSent) finish({ kind: 'fallback', reason: (e as Error).message });
            else finish({ kind: 'failed', status, bytes, error: e as Error });
            return false;
          }
        },
      },
    });
    socket.setTimeout(IDLE_MS, () => {
      if (head) finish({ kind: 'fallback', reason: 'upstream did not answer' });
      else finish({ kind: 'failed', status, bytes, error: new Error('upstream stalled') });
    });
    socket.on('connect', () => {
      const hostHeader = d.host.includes(':') ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`;
      let text = `GET ${d.path} HTTP/1.1\r\nhost: ${hostHeader}\r\nconnection: close\r\n`;
      for (const [k, v] of Object.entries(d.headers)) {
        for (const one of Array.isArray(v) ? v : [v]) {
          if (/[\r\n]/.test(one)) continue;
          text += `${k}: ${one}\r\n`;
        }
      }
      socket.write(`${text}\r\n`);
    });
    socket.on('error', (err) => {
      if (head) finish({ kind: 'fallback', reason: err.message });
      else finish({ kind: 'failed', status, bytes, error: err });
    });
    socket.on('end', () => {
      if (head) finish({ kind: 'fallback', reason: 'upstream closed before answering' });
      else if (remaining > 0)
        finish({ kind: 'failed', status, bytes, error: new Error('upstream closed mid-body') });
    });
    res.on('close', onClientClose);
  });
}
