// FLOOR for token issuance (static user and anonymous): a bare node:http server that does the
// work every token server must do, without Purser's logic. It parses the query, takes the
// account from the Basic header (no password check, no ACL: every requested action is
// granted), and signs the same claims the same way Purser does (ES256, raw r||s via
// crypto.sign with dsaEncoding 'ieee-p1363', the same header and claims shape), and returns
// the same JSON. Configuration comes as JSON in the BENCH_FLOOR environment variable.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const cfg = JSON.parse(process.env.BENCH_FLOOR ?? '{}');
const key = createPrivateKey(readFileSync(cfg.keyFile));
const headerB64 = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: cfg.kid })).toString(
  'base64url',
);
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function issue(sub, aud, access) {
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

function scopes(query) {
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

function basicUser(header) {
  if (!header?.startsWith('Basic ')) return '';
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded.slice(0, decoded.indexOf(':'));
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if ((q < 0 ? url : url.slice(0, q)) !== '/token') {
    res.writeHead(404).end();
    return;
  }
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const body = issue(
    basicUser(req.headers.authorization),
    query.get('service') ?? cfg.service,
    scopes(query),
  );
  res.writeHead(200, HEADERS).end(JSON.stringify(body));
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${server.address().port}` })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
