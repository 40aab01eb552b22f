import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { downloadBlob } from './blob-download.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) are per connection and never forwarded.
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  // Answered by the proxy itself (server.ts), and undici refuses to send it.
  'expect',
]);

/**
 * Client-sent forwarding headers the registry would trust for its own URLs and logs. Purser
 * sets X-Forwarded-Proto/Host itself and extends X-Forwarded-For; every other one a client
 * sends would override or contradict those (distribution prefers `Forwarded` to them).
 */
function isClientForwarding(name: string): boolean {
  return (
    name === 'forwarded' ||
    name === 'x-real-ip' ||
    (name.startsWith('x-forwarded-') && name !== 'x-forwarded-for')
  );
}

export interface ForwardOptions {
  method: string;
  path: string;
  authorization: string | undefined;
  externalUrl: string;
  upstream: string;
  clientIp: string;
  /** Rewrites response headers before they are sent (Location, challenges). */
  rewrite: (statusCode: number, headers: Record<string, string | string[]>) => void;
  onDone: (statusCode: number, bytes: number, error?: Error) => void;
  /** Told when a blob download leaves the fast path for the general one, and why. */
  onFallback?: (reason: string) => void;
  /** False once the upstream has shown it redirects blob downloads (object storage). */
  fastBlobs?: boolean;
  /** The request body, already read (an immutable tag's manifest); default: streamed from `req`. */
  body?: Buffer;
}

function requestHeaders(h: IncomingHttpHeaders, o: ForwardOptions): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP.has(k) || isClientForwarding(k)) continue;
    out[k] = v;
  }
  const connection = h.connection;
  if (connection) for (const name of connection.split(',')) delete out[name.trim().toLowerCase()];
  if (o.authorization) out.authorization = o.authorization;
  const prior = h['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${o.clientIp}` : o.clientIp;
  out['x-forwarded-proto'] = o.externalUrl.slice(0, o.externalUrl.indexOf(':'));
  out['x-forwarded-host'] = o.externalUrl.slice(o.externalUrl.indexOf('//') + 2).split('/')[0]!;
  return out;
}

function responseHeaders(raw: Dispatcher.ResponseData['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || HOP.has(k)) continue;
    out[k] = v;
  }
  return out;
}

const BLOB_GET = /\/blobs\/sha256:[a-f0-9]{64}$/;

/**
 * Streams a request to the upstream and its response back, both ways with backpressure and
 * no buffering. A client that goes away aborts the upstream request; an upstream that fails
 * mid-body destroys the client connection, so a truncated body never looks complete.
 * Blob downloads from an http:// upstream take the faster path of blob-download.ts.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  pool: Dispatcher,
  o: ForwardOptions,
): void {
  const q = o.path.indexOf('?');
  if (
    o.fastBlobs !== false &&
    o.method === 'GET' &&
    o.upstream.startsWith('http:') &&
    BLOB_GET.test(q < 0 ? o.path : o.path.slice(0, q))
  ) {
    const u = new URL(o.upstream);
    downloadBlob(res, {
      host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(u.port || 80),
      headers: requestHeaders(req.headers, o),
      path: o.path,
      prepare: o.rewrite,
    }).then((r) => {
      if (r.kind === 'done') o.onDone(r.status, r.bytes);
      else if (r.kind === 'failed') {
        res.destroy(r.error);
        o.onDone(r.status || 502, r.bytes, r.error);
      } else {
        o.onFallback?.(r.reason);
        forwardGeneral(req, res, pool, o);
      }
    });
    return;
  }
  forwardGeneral(req, res, pool, o);
}

function forwardGeneral(
  req: IncomingMessage,
  res: ServerResponse,
  pool: Dispatcher,
  o: ForwardOptions,
): void {
  const abort = new AbortController();
  let finished = false;
  let bytes = 0;
  let status = 0;
  const onClose = () => {
    if (!finished) abort.abort();
  };
  res.once('close', onClose);
  const hasBody = o.method !== 'GET' && o.method !== 'HEAD';

  pool.stream(
    {
      path: o.path,
      method: o.method as Dispatcher.HttpMethod,
      headers: requestHeaders(req.headers, o),
      body: hasBody ? (o.body ?? req) : null,
      signal: abort.signal,
      // Layers can take minutes: no overall limit, only idle ones.
      headersTimeout: 0,
      bodyTimeout: 5 * 60_000,
    },
    ({ statusCode, headers }) => {
      status = statusCode;
      const h = responseHeaders(headers);
      o.rewrite(statusCode, h);
      res.writeHead(statusCode, h);
      const len = Number(headers['content-length']);
      if (Number.isFinite(len)) bytes = len;
      // undici writes the body straight into the response, honouring its backpressure.
      return res;
    },
    (err) => {
      finished = true;
      res.off('close', onClose);
      if (err) {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'upstream registry unavailable' }] }),
          );
        } else res.destroy(err);
        o.onDone(status || 502, bytes, err);
      } else o.onDone(status, bytes);
    },
  );
}
