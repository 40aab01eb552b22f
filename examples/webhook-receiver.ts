// A webhook receiver for Purser's webhooks.authn and webhooks.authz, on node:https with no
// dependency: it checks the signature, then answers from two small tables.
// Run: WEBHOOK_SECRET=… TLS_CERT=server.crt TLS_KEY=server.key node dist/examples/webhook-receiver.js
// (then point webhooks.authn.url at https://HOST:8443/authn and webhooks.authz.url at /authz).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/** Seconds a request's timestamp may be away from this clock (refuses replays of old requests). */
const MAX_SKEW = 300;

/** True when `body` (the raw bytes, before parsing) was signed by Purser with `secret`. */
export function verifyPurserSignature(secret: string, headers: IncomingHttpHeaders, body: Buffer): boolean {
  const timestamp = String(headers['purser-timestamp'] ?? '');
  const signature = String(headers['purser-signature'] ?? '');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_SKEW)
    return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
  return (
    signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
}

// Stand-ins for a real directory and policy service.
const USERS: Record<string, { password: string; groups: string[] }> = {
  carol: { password: 'carol-pw', groups: ['developers'] },
};
const PULLERS: Record<string, string> = { developers: 'team/' };

interface Scope {
  type: string;
  name: string;
  actions: string[];
}

function authn(req: { username: string; password: string }) {
  const user = USERS[req.username];
  // Compare in constant time in a real receiver (or check a hash).
  if (!user || user.password !== req.password)
    return {
      apiVersion: 'purser.dev/v1',
      kind: 'AuthnResponse',
      allowed: false,
      reason: 'unknown user or password',
    };
  return {
    apiVersion: 'purser.dev/v1',
    kind: 'AuthnResponse',
    allowed: true,
    identity: { account: req.username, labels: { source: 'example' }, groups: user.groups },
  };
}

function authz(req: { identity: { groups: string[] }; scopes: Scope[] }) {
  const prefixes = req.identity.groups.map((g) => PULLERS[g]).filter((p) => p !== undefined);
  return {
    apiVersion: 'purser.dev/v1',
    kind: 'AuthzResponse',
    scopes: req.scopes.map((s) => ({
      type: s.type,
      name: s.name,
      // pull under the group's prefix; null leaves other scopes to Purser's ACL.
      actions: prefixes.some((p) => s.name.startsWith(p)) ? ['pull'] : null,
    })),
  };
}

export interface Receiver {
  url: string;
  close(): Promise<void>;
}

export async function startReceiver(o: {
  cert: string;
  key: string;
  secret: string;
  port?: number;
}): Promise<Receiver> {
  if (o.secret.length < 32) throw new Error('the shared secret needs at least 32 characters');
  const server: Server = createServer({ cert: o.cert, key: o.key }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1024 * 1024)
        req.destroy(); // Purser's requests are far smaller
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || !verifyPurserSignature(o.secret, req.headers, body)) {
        res.writeHead(401).end();
        return;
      }
      const doc = JSON.parse(body.toString('utf8'));
      const answer = req.url === '/authn' ? authn(doc) : req.url === '/authz' ? authz(doc) : undefined;
      if (!answer) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await startReceiver({
    cert: readFileSync(process.env.TLS_CERT ?? 'server.crt', 'utf8'),
    key: readFileSync(process.env.TLS_KEY ?? 'server.key', 'utf8'),
    secret: process.env.WEBHOOK_SECRET ?? '',
    port: 8443,
  });
  console.log(`listening on ${r.url}`);
}
