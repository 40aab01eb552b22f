// FLOOR for JWT logins: a bare node:http server that verifies the CI JWT from the Basic
// password with jose's jwtVerify against a local JWKS (createLocalJWKSet: the issuer's keys
// already in memory, as Purser's key cache holds them), checks the same policy in plain
// JavaScript (repository == scope name, ref == refs/heads/main), and signs the same ES256
// token claims the same way Purser does. Like Purser, it remembers a verified JWT (by its
// SHA-256) until the token's exp, so a repeated JWT is verified once on both sides.
// Configuration comes as JSON in BENCH_FLOOR.
import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';

const cfg = JSON.parse(process.env.BENCH_FLOOR ?? '{}');
const key = createPrivateKey(readFileSync(cfg.keyFile));
const jwks = createLocalJWKSet(JSON.parse(readFileSync(cfg.jwksFile, 'utf8')));
const headerB64 = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: cfg.kid })).toString(
  'base64url',
);
const verified = new Map();
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

async function handle(req, res, query) {
  const header = req.headers.authorization ?? '';
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const jwt = decoded.slice(decoded.indexOf(':') + 1);
  let payload;
  try {
    const id = createHash('sha256').update(jwt).digest('base64');
    payload = verified.get(id);
    if (!payload || payload.exp <= Date.now() / 1000) {
      ({ payload } = await jwtVerify(jwt, jwks, {
        issuer: cfg.providerIssuer,
        audience: cfg.audience,
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iss', 'aud'],
      }));
      verified.set(id, payload);
    }
  } catch (e) {
    res
      .writeHead(401, HEADERS)
      .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: e.message }] }));
    return;
  }
  const granted = scopes(query).filter(
    (s) => s.name === payload.repository && payload.ref === 'refs/heads/main',
  );
  res
    .writeHead(200, HEADERS)
    .end(JSON.stringify(issue(payload.repository, query.get('service') ?? cfg.service, granted)));
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if ((q < 0 ? url : url.slice(0, q)) !== '/token') {
    res.writeHead(404).end();
    return;
  }
  void handle(req, res, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${server.address().port}` })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
