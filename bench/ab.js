// Paired A/B of two Purser checkouts on this machine: each side runs `bin/purser.js serve`
// of its own checkout (built: `npm run build` there) with the same keys, users and ACL, and
// the two are loaded alternately, a few seconds each, for N pairs. On a VM whose speed
// drifts by 2× within a minute, only such pairs compare builds; the result is the median of
// the per-pair ratios (b / a), next to each side's median req/s, p99 and server CPU per
// request.
//
//   node bench/ab.js A_DIR B_DIR [static|anonymous] [PAIRS] [info|warn|warn/info]
//
// (warn/info: side a logs at warn, side b at info; with the same checkout twice, what the
// access log costs.)
// e.g. `git worktree add /tmp/base main~3 && (cd /tmp/base && npm ci && npm run build)`,
// then `node bench/ab.js /tmp/base . static 10`. Knobs: BENCH_CONNECTIONS (32),
// BENCH_DURATION (2 s per side and pair), BENCH_RESPONSE_BATCH (A/B: limits.responseBatch),
// BENCH_RATE (an offered rate instead of the closed loop).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import {
  BENCH,
  benchToken,
  CLK_TCK,
  freePort,
  generateKeys,
  log,
  machine,
  startServer,
  stopServer,
} from './setup.js';

const [aDir, bDir, scenario = 'static', pairsArg = '10', level = 'info'] = process.argv.slice(2);
const levels = level.split('/');
if (
  !aDir ||
  !bDir ||
  !['static', 'anonymous'].includes(scenario) ||
  levels.length > 2 ||
  !levels.every((l) => l === 'info' || l === 'warn')
) {
  log('usage: node bench/ab.js A_DIR B_DIR [static|anonymous] [PAIRS] [info|warn|warn/info]');
  process.exit(2);
}
const pairs = Number(pairsArg);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const duration = Number(process.env.BENCH_DURATION ?? 2);
// BENCH_RATE: an offered rate (requests/second, bench/load.js's `rate`) instead of the closed
// loop, to compare latency below capacity; 0 (default) is the closed loop.
const rate = Number(process.env.BENCH_RATE ?? 0);
const responseBatch = (process.env.BENCH_RESPONSE_BATCH ?? '').split('/').filter(Boolean).map(Number);
if (!responseBatch.every((n) => Number.isInteger(n) && n >= 1 && n <= 256)) {
  log('BENCH_RESPONSE_BATCH: one or two integers 1-256, as A/B');
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'purser-ab-'));
generateKeys(tmp);
const PASSWORD = 'bench-password';
const hash = await bcryptHash(PASSWORD, 10);
const servers = {};
for (const [side, dir] of [
  ['a', aDir],
  ['b', bDir],
]) {
  const port = await freePort();
  const config = {
    listen: `127.0.0.1:${port}`,
    workers: 1,
    token: {
      ...benchToken(),
      key: join(tmp, 'keys', 'token.key'),
      certificate: join(tmp, 'keys', 'token.crt'),
    },
    auth: { anonymous: true, cacheSeconds: 3600 },
    users: { 'ci-bot': hash },
    acl: [
      { match: { account: 'ci-bot', name: 'team/*' }, actions: ['pull', 'push'] },
      { match: { account: '', name: 'public/**' }, actions: ['pull'] },
    ],
    log: { level: side === 'a' ? levels[0] : (levels[1] ?? levels[0]) },
  };
  // BENCH_RESPONSE_BATCH=A/B: limits.responseBatch of each side (one number: both), e.g. 1/16
  // with the same checkout twice to measure the bursts alone. Unset: each side's default.
  if (responseBatch.length > 0)
    config.limits = {
      responseBatch: side === 'a' ? responseBatch[0] : (responseBatch[1] ?? responseBatch[0]),
    };
  const file = join(tmp, `${side}.json`);
  writeFileSync(file, JSON.stringify(config));
  servers[side] = await startServer(
    `${side} (${dir})`,
    process.execPath,
    [join(resolve(dir), 'bin', 'purser.js'), 'serve', '--config', file],
    {},
    join(tmp, `${side}.log`),
    `http://127.0.0.1:${port}`,
  );
}

const request =
  scenario === 'static'
    ? {
        path: '/token?service=registry.bench&scope=repository%3Ateam%2Fapp%3Apull%2Cpush',
        headers: { authorization: `Basic ${Buffer.from(`ci-bot:${PASSWORD}`).toString('base64')}` },
      }
    : { path: '/token?service=registry.bench&scope=repository%3Apublic%2Fapp%3Apull', headers: {} };

/** The process's user + system CPU ticks (/proc/PID/stat fields 14 and 15). */
function ticks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function run(server, side) {
  const t0 = ticks(server.child.pid);
  const spec = { url: server.url, ...request, connections, warmup: 0.5, duration, rate };
  const r = spawnSync(process.execPath, [join(BENCH, 'load.js'), JSON.stringify(spec)], { encoding: 'utf8' });
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (out.errors > 0) throw new Error(`side ${side}: ${out.errors} errors`);
  out.cpuUs = ((ticks(server.child.pid) - t0) * 1e6) / CLK_TCK / out.totalRequests;
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const m = machine();
  log(
    `${m.nproc} cores (${m.cpu}), Linux ${m.kernel}, Node ${m.node}; ${pairs} pairs of ${duration} s, ${scenario}, log ${level}`,
  );
  run(servers.a, 'a');
  run(servers.b, 'b');
  const got = { a: [], b: [] };
  const rps = [];
  const cpu = [];
  for (let i = 0; i < pairs; i++) {
    const now = {};
    for (const side of i % 2 ? ['b', 'a'] : ['a', 'b']) now[side] = run(servers[side], side);
    got.a.push(now.a);
    got.b.push(now.b);
    rps.push(now.b.rps / now.a.rps);
    cpu.push(now.b.cpuUs / now.a.cpuUs);
    log(
      `pair ${i + 1}: a ${now.a.rps.toFixed(0)} req/s (${now.a.cpuUs.toFixed(0)} µs)  b ${now.b.rps.toFixed(0)} req/s (${now.b.cpuUs.toFixed(0)} µs)  b/a ${(now.b.rps / now.a.rps).toFixed(3)}`,
    );
  }
  const side = (s) => ({
    rps: Math.round(median(got[s].map((r) => r.rps))),
    p50: Number(median(got[s].map((r) => r.p50)).toFixed(2)),
    p99: Number(median(got[s].map((r) => r.p99)).toFixed(2)),
    cpuUsPerRequest: Math.round(median(got[s].map((r) => r.cpuUs))),
  });
  const result = {
    scenario,
    level,
    pairs,
    a: { dir: aDir, ...side('a') },
    b: { dir: bDir, ...side('b') },
    rpsRatio: Number(median(rps).toFixed(3)),
    cpuRatio: Number(median(cpu).toFixed(3)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  for (const s of Object.values(servers)) await stopServer(s);
  rmSync(tmp, { recursive: true, force: true });
}
