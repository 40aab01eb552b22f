// What both floors share: the config from BENCH_FLOOR, the ES256 signing of the token exactly
// as Purser does it, and a minimal scope parser.
import { executionAsyncResource } from 'node:async_hooks';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

// The same guard as Purser's (src/runtime/tick-map-pin.ts): one nextTick entry kept alive, so
// a full GC cannot make nextTick megamorphic in one run of the floor and not the next.
const pinned = {};
process.nextTick(() => {
  pinned.tick = executionAsyncResource();
});

export const cfg = JSON.parse(process.env.BENCH_FLOOR ?? '{}');
const key = createPrivateKey(readFileSync(cfg.keyFile));
const headerB64 = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: cfg.kid })).toString(
  'base64url',
);
export const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function issue(sub, aud, access) {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: cfg.issuer,
    sub,
    aud,
    exp: iat + cfg.expiresIn,
    nbf: iat - 1,
    iat,
    jti: randomBytes(16).toString('base64url'),
    access,
  };
  const input = `${headerB64}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  const token = `${input}.${sig.toString('base64url')}`;
  return {
    token,
    access_token: token,
    expires_in: cfg.expiresIn,
    issued_at: new Date(iat * 1000).toISOString(),
  };
}

// With BENCH_FLOOR's `batch` (the "batched floor" rows of bench/run.js), responses are ended
// together once the event-loop turn's requests are answered, at most `batch` at once: what
// Purser's `limits.responseBatch` does (src/http/response-batch.ts), written again here so the
// floor stays independent of Purser's code. Without it, each is ended as soon as it is ready.
const BATCH = cfg.batch ?? 1;
let held = [];
let scheduled = false;
function flush() {
  const h = held;
  held = [];
  for (let i = 0; i < h.length; i += 4) h[i].writeHead(h[i + 1], h[i + 2]).end(h[i + 3]);
}
export function respond(res, status, headers, body) {
  if (BATCH <= 1) {
    res.writeHead(status, headers).end(body);
    return;
  }
  held.push(res, status, headers, body);
  if (held.length >= 4 * BATCH) flush();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flush();
    });
  }
}

export function scopes(query) {
  const out = [];
  for (const s of query.getAll('scope')) {
    for (const one of s.split(' ')) {
      const first = one.indexOf(':');
      const last = one.lastIndexOf(':');
      if (first > 0 && last > first) {
        out.push({
          type: one.slice(0, first),
          name: one.slice(first + 1, last),
          actions: one.slice(last + 1).split(','),
        });
      }
    }
  }
  return out;
}
