// The same servers and scenarios as bench/run.js, but counting CPU instructions per request
// under valgrind's callgrind instead of timing them: a count does not move when other work
// shares the machine, so the Purser / floor cost ratio it gives repeats far better than a
// timed one on a busy box (not exactly: the work per request depends on how many requests an
// event-loop turn finds waiting; the floor gave 466 k and 507 k in two runs). Slow (every server runs ~50x slower under valgrind):
// 15-20 minutes, a scenario's three servers at a time. Run after `npm run build`:
//
//   node bench/instructions.js          # BENCH_WARM (10000) and BENCH_COUNT (8000) requests
//
// For each scenario and server: BENCH_WARM requests to warm the JIT, zero the counters
// (callgrind_control -z), BENCH_COUNT requests over 8 connections, dump (callgrind_control
// -d), and divide by the request count: the instructions of the main thread (the event loop,
// which bounds a worker's rate) and of all threads (GC and compiler helpers too).
//
// Why these settings: with 1,000 warm-up requests V8 is still optimizing and the count moves
// by ±10 % between runs; the floor's own count falls from 700 k to 470 k between 1,000 and
// 10,000. A window of 8,000 takes in several old-generation collections, not zero or one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { BENCH, log, machine, setUp } from './setup.js';

const env = process.env;
const WARM = Number(env.BENCH_WARM ?? 10000);
const COUNT = Number(env.BENCH_COUNT ?? 8000);
const CONNECTIONS = 8;
const SCENARIOS = (env.BENCH_SCENARIOS ?? 'static,anonymous,jwt').split(',');

async function send(server, scenario, n) {
  const pool = new Pool(server.url, { connections: CONNECTIONS, pipelining: 1 });
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { statusCode, body } = await pool.request({
        path: scenario.path,
        method: 'GET',
        headers: scenario.headers,
      });
      await body.text();
      if (statusCode !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  await pool.close();
  if (failed) throw new Error(`${server.name} ${scenario.name}: ${failed} requests failed`);
}

/**
 * Instructions (Ir) since the last zeroing: dump now and read the new files' totals, one file
 * per thread (--separate-threads); thread 1 is the main thread.
 */
function dumpInstructions(dir, pid) {
  const before = new Set(readdirSync(dir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const files = readdirSync(dir).filter((f) => !before.has(f) && f.startsWith(`cg.${pid}`));
  if (files.length === 0) throw new Error(`callgrind wrote no dump for pid ${pid}`);
  let main = 0;
  let all = 0;
  for (const file of files) {
    const m = /^(?:summary|totals):\s*(\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
    if (!m) throw new Error(`no totals in ${file}`);
    all += Number(m[1]);
    if (/-0*1(\.\d+)?$/.test(file)) main += Number(m[1]);
  }
  if (main === 0) throw new Error(`no main-thread dump among ${files.join(', ')}`);
  return { main, all };
}

/**
 * A scenario's three servers, counted at once (three valgrind processes), so that they share
 * the machine's conditions and none sits idle for minutes before its count: counted after
 * waiting idle while other servers were measured, Purser at info came out 560–589 k where,
 * counted with the others from the start, it came out 546–549 k.
 */
async function measure(sc, bench, dir) {
  const one = async ([key, server]) => {
    await send(server, sc, WARM);
    execFileSync('callgrind_control', ['-z', String(server.child.pid)], { stdio: 'ignore' });
    await send(server, sc, COUNT);
    const ir = dumpInstructions(dir, server.child.pid);
    log(
      `${sc.name.padEnd(9)} ${server.name.padEnd(17)} ${Math.round(ir.main / COUNT).toLocaleString('en-US')} instructions/request on the main thread, ${Math.round(ir.all / COUNT).toLocaleString('en-US')} on all`,
    );
    return {
      scenario: sc.name,
      variant: key,
      server: server.name,
      main: ir.main / COUNT,
      all: ir.all / COUNT,
    };
  };
  return Promise.all([
    one(['floor', sc.floor]),
    one(['purserWarn', bench.purserWarn]),
    one(['purserInfo', bench.purserInfo]),
  ]);
}

async function main() {
  const started = Date.now();
  // Read now: the commit (and date) of the code the servers load, not of a later checkout.
  const at = machine();
  const dir = mkdtempSync(join(tmpdir(), 'purser-bench-cg-'));
  log('starting the servers under callgrind (a minute or two)…');
  const bench = await setUp({
    only: SCENARIOS,
    command: (args) => [
      'valgrind',
      '--tool=callgrind',
      `--callgrind-out-file=${dir}/cg.%p`,
      '--smc-check=all-non-file',
      '--dump-instr=no',
      '--separate-threads=yes',
      process.execPath,
      ...args,
    ],
    startTimeoutMs: 300_000,
  });
  try {
    const rows = [];
    for (const sc of bench.scenarios) rows.push(...(await measure(sc, bench, dir)));
    const summary = bench.scenarios.map((sc) => {
      const of = (v, k) => rows.find((r) => r.scenario === sc.name && r.variant === v)[k];
      return {
        scenario: sc.name,
        floor: of('floor', 'main'),
        purserWarn: of('purserWarn', 'main'),
        purserInfo: of('purserInfo', 'main'),
        ratioWarn: of('floor', 'main') / of('purserWarn', 'main'),
        ratioInfo: of('floor', 'main') / of('purserInfo', 'main'),
        allThreads: {
          floor: of('floor', 'all'),
          purserWarn: of('purserWarn', 'all'),
          purserInfo: of('purserInfo', 'all'),
          ratioInfo: of('floor', 'all') / of('purserInfo', 'all'),
        },
      };
    });
    const result = {
      machine: at,
      settings: { warm: WARM, count: COUNT, connections: CONNECTIONS },
      summary,
      elapsedSeconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(join(BENCH, 'results'), { recursive: true });
    const file = join(BENCH, 'results', `instructions-${result.machine.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`raw results: ${file}`);
    const k = (n) => `${Math.round(n / 1000).toLocaleString('en-US')} k`;
    const pct = (n) => `${Math.round(n * 100)} %`;
    const table = [
      `Counted ${result.machine.date.slice(0, 10)} with valgrind --tool=callgrind, Node ${result.machine.node}${result.machine.commit ? `, Purser at commit ${result.machine.commit}` : ''}: ${WARM} warm-up requests, then ${COUNT} counted requests over ${CONNECTIONS} connections per server and scenario, a scenario's three servers counted at once; ${result.elapsedSeconds} s. Main thread: the event loop, which bounds one worker's rate; all threads adds V8's GC and compiler helpers.`,
      '',
      '| scenario | floor, main thread/req | Purser log warn | Purser info access log | floor / Purser (warn) | floor / Purser (info) | all threads: floor / Purser (info) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...summary.map(
        (x) =>
          `| ${x.scenario} | ${k(x.floor)} | ${k(x.purserWarn)} | ${k(x.purserInfo)} | **${pct(x.ratioWarn)}** | **${pct(x.ratioInfo)}** | ${pct(x.allThreads.ratioInfo)} (${k(x.allThreads.floor)} / ${k(x.allThreads.purserInfo)}) |`,
      ),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (env.BENCH_NO_README !== '1') {
      const readme = join(BENCH, 'README.md');
      const begin = '<!-- instructions:begin (written by bench/instructions.js) -->';
      const end = '<!-- instructions:end -->';
      const text = readFileSync(readme, 'utf8');
      const i = text.indexOf(begin);
      const j = text.indexOf(end);
      if (i >= 0 && j > i) {
        writeFileSync(readme, `${text.slice(0, i)}${begin}\n${table}\n${end}${text.slice(j + end.length)}`);
        log('bench/README.md updated');
      }
    }
  } finally {
    await bench.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
