// FLOOR for JWT logins: a bare node:http server that verifies the CI JWT from the Basic
// password with jose's jwtVerify against a local JWKS (createLocalJWKSet: the issuer's keys
// already in memory, as Purser's key cache holds them), checks the same policy in plain
// JavaScript (repository == scope name, ref == refs/heads/main), and signs the same ES256
// token claims the same way Purser does. Like Purser, it remembers a verified JWT (by its
// SHA-256) until the token's exp, so a repeated JWT is verified once on both sides.
// Configuration comes as JSON in BENCH_FLOOR.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { cfg, HEADERS, issue, respond, scopes } from './floor-common.js';

const jwks = createLocalJWKSet(JSON.parse(readFileSync(cfg.jwksFile, 'utf8')));
// Verified JWTs by their SHA-256, as Purser keeps them.
const verified = new Map();

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
    respond(res, 401, HEADERS, JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: e.message }] }));
    return;
  }
  const granted = scopes(query).filter(
    (s) => s.name === payload.repository && payload.ref === 'refs/heads/main',
  );
  respond(
    res,
    200,
    HEADERS,
    JSON.stringify(issue(payload.repository, query.get('service') ?? cfg.service, granted)),
  );
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
