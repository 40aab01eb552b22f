// A real HTTPS webhook receiver on loopback for tests: verifies Purser's signature the way
// docs/authentication.md tells receivers to, records what it got, and answers as told.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestCa } from './test-ca.js';

export interface ReceivedCall {
  body: Record<string, unknown>;
  raw: string;
  headers: IncomingMessage['headers'];
  /** The signature checked out (HMAC over timestamp + "." + body, timestamp within 5 min). */
  signatureValid: boolean;
}

/** What the test answers; `res` is there for hostile answers (slow, huge, redirects). */
export type WebhookHandler = (call: ReceivedCall, res: ServerResponse) => unknown | Promise<unknown>;

export interface WebhookServer {
  url: string;
  calls: ReceivedCall[];
  handler: WebhookHandler;
  close(): Promise<void>;
}

/** The receiver's check, as documented. */
export function verifySignature(secret: string, headers: IncomingMessage['headers'], raw: string): boolean {
  const ts = String(headers['purser-timestamp'] ?? '');
  const sig = String(headers['purser-signature'] ?? '');
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const want = `sha256=${createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex')}`;
  return sig.length === want.length && timingSafeEqual(Buffer.from(sig), Buffer.from(want));
}

/**
 * Starts the receiver; `handler` returns the JSON to answer (200), or writes `res` itself and
 * returns undefined. Change `server.handler` between tests.
 */
export async function startWebhookServer(
  ca: TestCa,
  secret: string,
  handler: WebhookHandler,
): Promise<WebhookServer> {
  const calls: ReceivedCall[] = [];
  const sockets = new Set<import('node:stream').Duplex>();
  const state: { handler: WebhookHandler } = { handler };
  const server: Server = createServer({ cert: ca.certPem, key: ca.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {}
      const call = {
        body,
        raw,
        headers: req.headers,
        signatureValid: verifySignature(secret, req.headers, raw),
      };
      calls.push(call);
      Promise.resolve(state.handler(call, res)).then(
        (answer) => {
          if (answer === undefined || res.headersSent) return;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        },
        () => res.destroy(),
      );
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // TLS handshakes a test refuses on purpose end in client errors: not worth a crash.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/hook`,
    calls,
    get handler() {
      return state.handler;
    },
    set handler(h: WebhookHandler) {
      state.handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
