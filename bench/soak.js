import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { Pool } from 'undici';
import { rssTreeMiB } from './load-run.js';
import { benchToken, generateKeys, log, machine, startPurserWith, stopServer } from './setup.js';

// --minutes M (10); --rate N soaks at N req/s instead of half the measured maximum (and skips
// measuring it): the test suite's short run, which must not load a shared machine flat out.
const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string' } },
});
const MINUTES = Number(values.minutes);
const FIXED_RATE = values.rate === undefined ? undefined : Number(values.rate);
const SERVICE = 'registry.bench';
const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const tokenPath = (scope) => `/token?service=${SERVICE}&scope=${encodeURIComponent(scope)}`;
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

/** Requests per second `pool` completes, `schedule` in turn on every connection, after `warmup` s. */
async function closedLoopRate(pool, schedule, warmup, seconds) {
  let n = 0;
  let done = 0;
  const start = performance.now() + warmup * 1000;
  const end = start + seconds * 1000;
  const worker = async () => {
    for (let now = performance.now(); now < end; now = performance.now()) {
      const k = schedule[n++ % schedule.length];
      const { body } = await pool.request({ path: k.path, method: 'GET', headers: k.headers });
      await body.dump();
      const t = performance.now();
      if (now >= start && t <= end) done++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return done / seconds;
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'purser-soak-'));
  let server;
  try {
    generateKeys(tmp);
    server = await startPurserWith(tmp, {
      token: benchToken(),
      auth: { anonymous: true },
      users: { 'ci-bot': await bcryptHash('pw', 10) },
      acl: [
        { match: { account: 'ci-bot', name: 'team/*' }, actions: ['pull', 'push'] },
        { match: { account: '', name: 'public/**' }, actions: ['pull'] },
      ],
    });
    const kinds = [
      {
        name: 'anonymous',
        path: tokenPath('repository:public/app:pull'),
        headers: {},
        status: 200,
        weight: 6,
      },
      {
        name: 'static',
        path: tokenPath('repository:team/app:pull,push'),
        headers: { authorization: basic('ci-bot', 'pw') },
        status: 200,
        weight: 3,
      },
      // An unknown user from one address: the failed-login limit answers 401, then 429 (ci-bot,
      // the static user, is another key and is never locked out by it).
      {
        name: 'refused',
        path: tokenPath('repository:team/app:pull'),
        headers: { authorization: basic('mallory', 'guess') },
        status: [401, 429],
        weight: 1,
      },
    ];
    const pool = new Pool(server.url, { connections: 32, pipelining: 1, keepAliveTimeout: 120_000 });
    const schedule = [];
    for (const k of kinds) for (let i = 0; i < k.weight; i++) schedule.push(k);
    // The maximum, of the same mix: 32 connections flat out (closed loop), 2 s warm-up + 5 s.
    // (Anonymous pulls alone go about twice as fast as the mix: half of that would overload.)
    // With a rate given, 2 s of the mix still warm the server up first (JIT, heap), so that
    // the RSS the run starts from is a warm one.
    const max = FIXED_RATE === undefined ? await closedLoopRate(pool, schedule, 2, 5) : undefined;
    if (FIXED_RATE !== undefined) await closedLoopRate(pool, schedule, 1, 1);
    const rate = FIXED_RATE ?? Math.max(1, Math.round(max / 2));
    log(
      `${max === undefined ? 'rate given' : `max ${Math.round(max)} req/s (the same mix, closed loop)`}; soaking at ${rate} req/s for ${MINUTES} min`,
    );

    const stats = { sent: 0, ok: 0, errors: 0, firstError: undefined };
    let latencies = [];
    let byKind = {};
    const minuteRows = [];
    const rssStart = rssTreeMiB(server.child.pid);
    const t0 = performance.now();
    const end = t0 + MINUTES * 60_000;
    const inflight = new Set();
    let nextMinute = t0 + 60_000;
    let n = 0;
    // One row per minute of the run: its requests' latency (from when each was due) and the RSS.
    // The last window's latencies, for the stragglers (requests still in flight when the last
    // whole minute closed): they join that minute instead of making a part-minute of their own.
    let last;
    const closeWindow = (stragglers = false) => {
      if (stragglers && last) {
        minuteRows.pop();
        latencies = [...last.latencies, ...latencies];
        for (const [name, xs] of Object.entries(last.byKind)) byKind[name] = [...xs, ...(byKind[name] ?? [])];
      }
      last = { latencies, byKind };
      const sorted = latencies.sort((a, b) => a - b);
      const row = {
        minute: minuteRows.length + 1,
        requests: sorted.length,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        rssMiB: rssTreeMiB(server.child.pid),
        errors: stats.errors,
        p99ByKind: Object.fromEntries(
          Object.entries(byKind).map(([name, xs]) => [
            name,
            percentile(
              xs.sort((a, b) => a - b),
              0.99,
            ),
          ]),
        ),
      };
      minuteRows.push(row);
      log(
        `minute ${row.minute}: ${row.requests} requests, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, RSS ${row.rssMiB.toFixed(1)} MiB, errors so far ${row.errors}; p99 by kind: ${Object.entries(
          row.p99ByKind,
        )
          .map(([name, p]) => `${name} ${p.toFixed(1)} ms`)
          .join(', ')}`,
      );
      latencies = [];
      byKind = {};
    };
    const one = async (k, due) => {
      try {
        const { statusCode, body } = await pool.request({ path: k.path, method: 'GET', headers: k.headers });
        await body.dump();
        const ok = Array.isArray(k.status) ? k.status.includes(statusCode) : statusCode === k.status;
        if (ok) stats.ok++;
        else {
          stats.errors++;
          stats.firstError ??= `${k.name}: HTTP ${statusCode}`;
        }
      } catch (e) {
        stats.errors++;
        stats.firstError ??= `${k.name}: ${e.message}`;
      }
      const ms = performance.now() - due;
      latencies.push(ms);
      byKind[k.name] ??= [];
      byKind[k.name].push(ms);
    };
    while (performance.now() < end) {
      const due = t0 + (n * 1000) / rate;
      const now = performance.now();
      if (due > now) await new Promise((r) => setTimeout(r, Math.min(due - now, 50)));
      // Every request that is due now starts now (a late timer sends a small burst).
      while (t0 + (n * 1000) / rate <= performance.now() && performance.now() < end) {
        const k = schedule[n % schedule.length];
        const p = one(k, t0 + (n * 1000) / rate);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
        n++;
        stats.sent++;
      }
      if (performance.now() >= nextMinute) {
        closeWindow();
        nextMinute += 60_000;
      }
    }
    await Promise.all(inflight);
    // The last part-minute too (all of a run shorter than a minute), or the stragglers of the
    // last whole one.
    if (latencies.length > 0) closeWindow(minuteRows.length >= MINUTES);
    await pool.close();
    const rssEnd = rssTreeMiB(server.child.pid);
    const elapsed = (performance.now() - t0) / 1000;
    const p99 = Math.max(...minuteRows.map((r) => r.p99));
    const growth = rssEnd / rssStart - 1;
    const pass = stats.errors === 0 && Math.abs(growth) <= 0.1;
    const result = {
      machine: machine(),
      minutes: MINUTES,
      maxRps: max,
      rate,
      achievedRps: stats.sent / elapsed,
      ...stats,
      rssStartMiB: rssStart,
      rssEndMiB: rssEnd,
      rssGrowth: growth,
      perMinute: minuteRows,
    };
    process.stderr.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(
      `soak: ${MINUTES} min at ${rate} req/s (${max === undefined ? 'as given' : `half of the measured ${Math.round(max)}, same mix`}), ${stats.sent} requests (${(stats.sent / elapsed).toFixed(0)} req/s achieved), ${stats.errors} errors${stats.firstError ? ` (first: ${stats.firstError})` : ''}, worst minute p99 ${p99.toFixed(1)} ms, RSS ${rssStart.toFixed(1)} → ${rssEnd.toFixed(1)} MiB (${(growth * 100).toFixed(1)} %); ${pass ? 'PASS' : 'FAIL'} (0 errors, RSS within 10 %)\n`,
    );
  } finally {
    if (server) await stopServer(server);
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main().catch((e) => {
  log(`soak: ${e.stack ?? e}`);
  process.exit(1);
});
