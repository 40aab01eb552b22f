import type { IncomingMessage } from 'node:http';

/**
 * True when the client waits for `100 Continue` before sending its body (RFC 9110 §10.1.1).
 * The proxy answers it itself once the request is authorised; the header is hop-by-hop here
 * (undici refuses to send it), so it never reaches the registry.
 */
export function expectsContinue(req: IncomingMessage): boolean {
  const e = req.headers.expect;
  return typeof e === 'string' && e.trim().toLowerCase() === '100-continue';
}
