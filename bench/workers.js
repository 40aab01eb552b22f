// Worker scaling: anonymous token issuance with `serve --workers 1` and `--workers N` (default
// 2) in one run, alternating for BENCH_ROUNDS rounds (medians reported), and the idle RSS of
// each process (primary and workers) before any load. One JSON result line on stdout, a
// summary on stderr. `node bench/workers.js` after `npm run build`.
//
// Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION seconds (5), BENCH_WARMUP seconds (1),
// BENCH_CONNECTIONS (32), BENCH_WORKERS (2), BENCH_IDLE seconds before the idle RSS (30).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { children, pssMiB, rssMiB } from './load-run.js';
import { BENCH, benchToken, freePort, generateKeys, log, machine, startServer, stopServer } from './setup.js';

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const DURATION = Number(env.BENCH_DURATION ?? 5);
const WARMUP = Number(env.BENCH_WARMUP ?? 1);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const WORKERS = Number(env.BENCH_WORKERS ?? 2);
const IDLE = Number(env.BENCH_IDLE ?? 30);
const PATH = `/token?service=registry.bench&scope=${encodeURIComponent('repository:public/app:pull')}`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const round1 = (x) => Math.round(x * 10) / 10;

/** Waits until the primary has `n` workers serving (its /metrics says so). */
async function workersUp(url, n) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await request(`${url}/metrics`);
    const text = await res.body.text();
    if (new RegExp(`^purser_workers ${n}$`, 'm').test(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${n} workers did not start`);
}

function load(url) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(BENCH, 'load.js'),
        JSON.stringify({ url, path: PATH, connections: CONNECTIONS, warmup: WARMUP, duration: DURATION }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.once('exit', (code) => {
      const done = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((l) => l.event === 'done');
      if (code !== 0 || !done) reject(new Error(`load.js exited ${code}: ${out}`));
      else resolve(done);
    });
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'purser-bench-workers-'));
const servers = [];
try {
  generateKeys(tmp);
  const start = async (workers) => {
    const port = await freePort();
    const file = join(tmp, `purser-${workers}.yaml`);
    writeFileSync(
      file,
      stringify({
        listen: `127.0.0.1:${port}`,
        workers,
        token: benchToken(),
        acl: [{ match: { account: '', name: 'public/**' }, actions: ['pull'] }],
        log: { level: 'warn' },
      }),
    );
    const s = await startServer(
      `purser --workers ${workers}`,
      process.execPath,
      ['bin/purser.js', 'serve', '--config', file],
      {},
      join(tmp, `purser-${workers}.log`),
      `http://127.0.0.1:${port}`,
      60_000,
    );
    servers.push(s);
    if (workers > 1) await workersUp(s.url, workers);
    return s;
  };
  const one = await start(1);
  const many = await start(WORKERS);
  // Idle: started, nothing served yet but the start-up probes, left alone for IDLE seconds
  // (V8 gives back the young generation start-up grew once a process has been idle a while).
  // RSS counts the pages of node's binary every process maps; PSS shares them out.
  await new Promise((r) => setTimeout(r, IDLE * 1000));
  const mem = (pid) => ({ rss: round1(rssMiB(pid)), pss: round1(pssMiB(pid)) });
  const idle = {
    afterSeconds: IDLE,
    single: mem(one.child.pid),
    primary: mem(many.child.pid),
    workers: children(many.child.pid).map(mem),
  };
  const show = (m) => `${m.rss} (PSS ${m.pss})`;
  log(
    `idle after ${IDLE} s, MiB RSS (PSS): single process ${show(idle.single)}; primary ${show(idle.primary)}, workers ${idle.workers.map(show).join(', ')}`,
  );
  const runs = { 1: [], [WORKERS]: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [w, s] of [
      [1, one],
      [WORKERS, many],
    ]) {
      const r = await load(s.url);
      if (r.errors > 0) throw new Error(`${s.name}: ${r.errors} errors (${r.firstError})`);
      runs[w].push(r);
      log(
        `round ${round} workers ${w}: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`,
      );
    }
  }
  const summary = (rs) => ({
    rps: Math.round(median(rs.map((r) => r.rps))),
    p50: Number(median(rs.map((r) => r.p50)).toFixed(2)),
    p99: Number(median(rs.map((r) => r.p99)).toFixed(2)),
    rounds: rs.map((r) => Math.round(r.rps)),
  });
  const single = summary(runs[1]);
  const multi = summary(runs[WORKERS]);
  const result = {
    bench: 'workers',
    machine: { ...machine(), loadavg: loadavg().map((x) => Number(x.toFixed(2))) },
    connections: CONNECTIONS,
    duration: DURATION,
    rounds: ROUNDS,
    workers: WORKERS,
    anonymous: {
      workers1: single,
      [`workers${WORKERS}`]: multi,
      ratio: Number((multi.rps / single.rps).toFixed(2)),
    },
    idleRssMiB: idle,
  };
  log(
    `anonymous tokens: --workers 1 ${single.rps} req/s (p99 ${single.p99} ms), --workers ${WORKERS} ${multi.rps} req/s (p99 ${multi.p99} ms): ratio ${result.anonymous.ratio}`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await Promise.all(servers.map(stopServer));
  rmSync(tmp, { recursive: true, force: true });
}
