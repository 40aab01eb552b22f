// In-process timings of each stage of a token request, without HTTP: jose alone, Purser's
// provider (verify + CEL identity), the ACL, the signer, and TokenService.handle for the three
// scenarios; serially and with 32 requests in flight (CPU µs per operation). Imports Purser's
// compiled internals from dist/, so run it after `npm run build`:
//
//   node bench/breakdown.js
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { loadConfigFile } from '../dist/src/config/load.js';
import { toCelValue } from '../dist/src/expr/cel.js';
import { parseGetTokenRequest } from '../dist/src/protocol/token-request.js';
import { buildApp } from '../dist/src/server/app.js';
import { silentLogger } from '../dist/src/util/log.js';
import { startIssuer } from './issuer.js';

const tmp = mkdtempSync(join(tmpdir(), 'purser-breakdown-'));
execFileSync(
  process.execPath,
  ['bin/purser.js', 'keys', 'generate', '--alg', 'ES256', '--out', join(tmp, 'keys')],
  {
    cwd: new URL('..', import.meta.url),
  },
);
const issuer = await startIssuer();
const jwt = await issuer.mint({ audience: 'registry.bench' });
writeFileSync(
  join(tmp, 'c.json'),
  JSON.stringify({
    listen: '127.0.0.1:0',
    token: { issuer: 'purser-bench', service: 'registry.bench', key: 'keys/token.key' },
    users: { 'ci-bot': { password: 'x' } },
    providers: [{ name: 'github', preset: 'github-actions', issuer: issuer.url, audience: 'registry.bench' }],
    acl: [
      { match: { account: 'ci-bot', name: 'team/*' }, actions: ['pull', 'push'] },
      {
        match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
        when: 'claims.ref == "refs/heads/main"',
        actions: ['pull', 'push'],
      },
      { match: { account: '', name: 'public/**' }, actions: ['pull'] },
    ],
  }),
);
const app = await buildApp(loadConfigFile(join(tmp, 'c.json')), silentLogger);
const provider = app.providers.list[0];
await provider.identify(jwt);
const jwks = createLocalJWKSet(issuer.jwks);
const auth = `Basic ${Buffer.from(`github:${jwt}`).toString('base64')}`;
const q = new URLSearchParams('service=registry.bench&scope=repository%3Aacme%2Fapp%3Apull%2Cpush');
const identity = await provider.identify(jwt);
const N = 20000;
async function time(name, fn) {
  for (let i = 0; i < 3000; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await fn();
  console.log(name.padEnd(40), (Number(process.hrtime.bigint() - t0) / N / 1000).toFixed(1), 'µs');
}
for (let rep = 0; rep < 2; rep++) {
  await time('jose jwtVerify (local JWKS)', () =>
    jwtVerify(jwt, jwks, {
      issuer: issuer.url,
      audience: 'registry.bench',
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iss', 'aud'],
    }),
  );
  await time('provider.identify', () => provider.identify(jwt));
  await time('identityFromClaims', () => provider.identityFromClaims(identity.claims));
  await time('toCelValue(claims)', () => toCelValue(identity.claims));
  await time('parseGetTokenRequest', () => parseGetTokenRequest(new URLSearchParams(q), auth));
  const req = parseGetTokenRequest(q, auth);
  await time('acl.authorize', () =>
    app.acl.authorize({ identity, service: 'registry.bench', scopes: req.scopes, ip: '127.0.0.1' }),
  );
  await time('keyring.signer.issue', () =>
    app.keyring.signer.issue('acme/app', 'registry.bench', req.scopes),
  );
  await time('tokens.handle (whole)', () => app.tokens.handle(req, '127.0.0.1'));
  const anon = parseGetTokenRequest(
    new URLSearchParams('service=registry.bench&scope=repository%3Apublic%2Fapp%3Apull'),
    undefined,
  );
  await time('tokens.handle anonymous', () => app.tokens.handle(anon, '127.0.0.1'));
  const st = parseGetTokenRequest(
    new URLSearchParams('service=registry.bench&scope=repository%3Ateam%2Fapp%3Apull%2Cpush'),
    `Basic ${Buffer.from('ci-bot:x').toString('base64')}`,
  );
  await time('tokens.handle static (plain pw)', () => app.tokens.handle(st, '127.0.0.1'));
}
async function cpuPerOp(name, fn, conc = 32, n = 20000) {
  const run = async (count) => {
    let left = count;
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (left-- > 0) await fn();
      }),
    );
  };
  await run(3000);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(n);
  const c = process.cpuUsage(c0);
  console.log(
    `${name} x${conc}`.padEnd(40),
    ((c.user + c.system) / n).toFixed(1),
    'µs CPU/op',
    (Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(1),
    'µs wall/op',
  );
}
for (let rep = 0; rep < 2; rep++) {
  await cpuPerOp('jose jwtVerify', () =>
    jwtVerify(jwt, jwks, {
      issuer: issuer.url,
      audience: 'registry.bench',
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iss', 'aud'],
    }),
  );
  await cpuPerOp('provider.identify', () => provider.identify(jwt));
  const req = parseGetTokenRequest(q, auth);
  await cpuPerOp('tokens.handle jwt', () => app.tokens.handle(req, '127.0.0.1'));
  await cpuPerOp('tokens.authenticate jwt', () => app.tokens.authenticate(req.credentials, '127.0.0.1'));
  await cpuPerOp('verify + acl + sign', async () => {
    const id = await provider.identify(jwt);
    app.acl.authorize({ identity: id, service: 'registry.bench', scopes: req.scopes, ip: '127.0.0.1' });
    return app.keyring.signer.issue(id.account, 'registry.bench', req.scopes);
  });
  await cpuPerOp('jose verify + sign', async () => {
    await jwtVerify(jwt, jwks, {
      issuer: issuer.url,
      audience: 'registry.bench',
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iss', 'aud'],
    });
    return app.keyring.signer.issue('acme/app', 'registry.bench', req.scopes);
  });
}
await issuer.close();
rmSync(tmp, { recursive: true, force: true });
process.exit(0);
