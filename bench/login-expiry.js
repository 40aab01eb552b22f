// Cached static logins while the login cache expires under load (issue 11 part 7, the
// hardening issue's stampede): `serve` as users run it (all workers, default log level) with
// a bcrypt cost-10 user and a short `auth.cacheSeconds`, Basic logins flat out on 32
// keep-alive connections for several cache lifetimes. Every expiry either renews the entry
// in the background (the refresh window before expiry) or, past it, makes one bcrypt check
// per process that requests wait for: the p99 shows which. Reports p50/p99/max of every
// login, the errors, and the login cache's hits, refreshes and misses from /metrics. One JSON
// result line on stdout, a summary on stderr. `node bench/login-expiry.js` after a build.
//
// Knobs (environment): BENCH_CACHE seconds (2), BENCH_DURATION seconds (12),
// BENCH_CONNECTIONS (32), BENCH_WORKERS (the serve default).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { request } from 'undici';
import { runLoad } from './load-run.js';
import { benchToken, generateKeys, log, machine, startPurserWith, stopServer } from './setup.js';

const env = process.env;
const CACHE = Number(env.BENCH_CACHE ?? 2);
const DURATION = Number(env.BENCH_DURATION ?? 12);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const WORKERS = env.BENCH_WORKERS === undefined ? undefined : Number(env.BENCH_WORKERS);
const SERVICE = 'registry.bench';

/** purser_login_cache_total by result, summed over the workers (the primary's /metrics). */
async function loginCacheCounts(url) {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const out = { hit: 0, refresh: 0, miss: 0 };
  for (const m of text.matchAll(/^purser_login_cache_total\{[^}]*result="(\w+)"[^}]*\} (\d+)/gm))
    out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'purser-login-expiry-'));
let server;
try {
  generateKeys(tmp);
  server = await startPurserWith(tmp, {
    ...(WORKERS === undefined ? {} : { workers: WORKERS }),
    token: benchToken(),
    auth: { cacheSeconds: CACHE },
    users: { 'ci-bot': await bcryptHash('pw', 10) },
    acl: [{ match: { account: 'ci-bot', name: 'team/*' }, actions: ['pull', 'push'] }],
  });
  const before = await loginCacheCounts(server.url);
  const r = await runLoad(server, {
    path: `/token?service=${SERVICE}&scope=${encodeURIComponent('repository:team/app:pull,push')}`,
    headers: { authorization: `Basic ${Buffer.from('ci-bot:pw').toString('base64')}` },
    connections: CONNECTIONS,
    warmup: 1,
    duration: DURATION,
  });
  const after = await loginCacheCounts(server.url);
  const cache = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
  const result = {
    machine: machine(),
    cacheSeconds: CACHE,
    duration: DURATION,
    connections: CONNECTIONS,
    workers: WORKERS ?? 'default',
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    max: r.max,
    errors: r.errors,
    loginCache: cache,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  log(
    `login-expiry: ${CACHE} s cache, ${DURATION} s of cached Basic logins on ${CONNECTIONS} connections: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, ${r.errors} errors; login cache (whole run, warm-up too) ${cache.hit} hits, ${cache.refresh} refreshes, ${cache.miss} misses; ${r.p99 < 20 && r.errors === 0 ? 'PASS' : 'FAIL'} (p99 < 20 ms, 0 errors)`,
  );
} finally {
  if (server) await stopServer(server);
  rmSync(tmp, { recursive: true, force: true });
}
