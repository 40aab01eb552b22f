import type { IncomingMessage } from 'node:http';
import { PurserError } from '../core/errors.js';

const tooLarge = (limit: number) =>
  new PurserError('INVALID_REQUEST', `request body larger than ${limit} bytes`);

/** Reads a small request body from the stream, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(tooLarge(limit));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Answer 400 rather than reset the connection; the rest of the body is discarded.
        req.off('data', onData);
        req.resume();
        reject(tooLarge(limit));
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client that goes away mid-body is a bad request, not a server error.
    req.on('error', () => reject(new PurserError('INVALID_REQUEST', 'request body aborted')));
  });
}

/** A body parsed before Purser saw the request (express.urlencoded, fastify's parsers). */
function preParsed(body: unknown, limit: number): URLSearchParams | undefined {
  if (typeof body === 'string') {
    if (Buffer.byteLength(body) > limit) throw tooLarge(limit);
    return new URLSearchParams(body);
  }
  if (body instanceof Uint8Array) {
    if (body.length > limit) throw tooLarge(limit);
    return new URLSearchParams(Buffer.from(body).toString('utf8'));
  }
  if (body === null || typeof body !== 'object') return undefined;
  const entries = Object.entries(body);
  // body-parser sets `{}` before it knows whether the body is its type: an empty object
  // says nothing, and the stream may still hold the form.
  if (entries.length === 0) return undefined;
  const form = new URLSearchParams();
  let size = 0;
  for (const [k, v] of entries) {
    for (const one of Array.isArray(v) ? v : [v]) {
      // A nested object (qs's extended syntax) is not a form field the token endpoint takes.
      if (typeof one !== 'string') {
        throw new PurserError(
          'INVALID_REQUEST',
          `form field ${JSON.stringify(k.slice(0, 50))} is not a string`,
        );
      }
      size += k.length + one.length + 2;
      if (size > limit) throw tooLarge(limit);
      form.append(k, one);
    }
  }
  return form;
}

/**
 * The form of a POST: from `req.body` when middleware already read it, else from the stream.
 * An empty pre-parsed body on a consumed stream is an empty form.
 */
export async function readForm(req: IncomingMessage, limit: number): Promise<URLSearchParams> {
  const pre = preParsed((req as IncomingMessage & { body?: unknown }).body, limit);
  if (pre) return pre;
  if (req.readableEnded) return new URLSearchParams();
  return new URLSearchParams(await readBody(req, limit));
}
