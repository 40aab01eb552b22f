// Purser's benchmark: token issuance (cached static user, anonymous pull) and JWT logins,
// each next to a FLOOR measured in the same run. `npm run bench` builds, then runs this.
//
// Every server under test runs in its own process, the load generator (bench/load.js) in
// another; runs alternate floor / batched floor / Purser (warn log) / Purser (info access log) per scenario,
// for several rounds, and the median of each is reported. Results go to bench/results/*.json
// (git-ignored) and into the results section of bench/README.md.
//
// Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION seconds (5), BENCH_WARMUP seconds (1),
// BENCH_CONNECTIONS (32), BENCH_SCENARIOS (static,anonymous,jwt), BENCH_PROFILE=1 (run the
// Purser processes under --cpu-prof and print where their time went), BENCH_NO_README=1.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeProfiles } from './profile.js';
import { BENCH, CLK_TCK, log, machine, setUp, stopServer } from './setup.js';

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const DURATION = Number(env.BENCH_DURATION ?? 5);
const WARMUP = Number(env.BENCH_WARMUP ?? 1);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const SCENARIOS = (env.BENCH_SCENARIOS ?? 'static,anonymous,jwt').split(',');
const PROFILE = env.BENCH_PROFILE === '1';
const PROFILE_DIR = PROFILE ? mkdtempSync(join(tmpdir(), 'purser-bench-prof-')) : undefined;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Busy CPU ticks of the whole machine (all cores), from /proc/stat. */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7]; // user nice system irq softirq steal
}

function cpuTicks(pid) {
  // /proc/PID/stat: the command may contain spaces, so split after the closing parenthesis.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
}

/** One load run against `server`; samples the server's CPU time over the measured window. */
function runLoad(server, scenario) {
  return new Promise((resolve, reject) => {
    const spec = {
      url: server.url,
      path: scenario.path,
      headers: scenario.headers,
      connections: CONNECTIONS,
      warmup: WARMUP,
      duration: DURATION,
    };
    const child = spawn(process.execPath, [join(BENCH, 'load.js'), JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    let ticks0;
    let machine0;
    let result;
    child.stdout.on('data', (c) => {
      buf += c;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (msg.event === 'measuring') {
          ticks0 = cpuTicks(server.child.pid);
          machine0 = machineTicks();
        } else if (msg.event === 'done') {
          const serverCpuSeconds = (cpuTicks(server.child.pid) - ticks0) / CLK_TCK;
          const machineCpuSeconds = (machineTicks() - machine0) / CLK_TCK;
          result = {
            ...msg,
            serverCpuSeconds,
            serverCpuPercent: (100 * serverCpuSeconds) / DURATION,
            serverCpuMicrosPerRequest: msg.requests ? (serverCpuSeconds * 1e6) / msg.requests : Number.NaN,
            // Everything else the machine ran meanwhile (other users' work, the kernel), % of one core.
            otherCpuPercent: Math.max(
              0,
              (100 * (machineCpuSeconds - serverCpuSeconds - msg.loadCpuSeconds)) / DURATION,
            ),
            loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
          };
          delete result.event;
        }
        nl = buf.indexOf('\n');
      }
    });
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`load generator exited with ${code}`));
    });
  });
}

async function main() {
  const started = Date.now();
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const bench = await setUp({
    only: SCENARIOS,
    nodeArgs: () => (PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []),
  });
  const { servers, purserWarn, purserInfo, scenarios, issuer } = bench;
  try {
    const variants = [
      { key: 'floor', server: (sc) => sc.floor },
      { key: 'floorBatched', server: (sc) => sc.floorBatched },
      { key: 'purserWarn', server: () => purserWarn },
      { key: 'purserInfo', server: () => purserInfo },
    ];
    const runs = [];
    const total = ROUNDS * scenarios.length * variants.length;
    log(
      `${total} runs of ${WARMUP} s warm-up + ${DURATION} s, ${CONNECTIONS} connections: about ${Math.ceil((total * (WARMUP + DURATION + 0.3)) / 60)} min`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const sc of scenarios) {
        // The order turns each round, so no server always runs first (or last) in a round.
        const order = variants.map((_, i) => variants[(i + round - 1) % variants.length]);
        for (const v of order) {
          const server = v.server(sc);
          const r = await runLoad(server, sc);
          runs.push({ round, scenario: sc.name, variant: v.key, server: server.name, ...r });
          log(
            `round ${round} ${sc.name.padEnd(9)} ${server.name.padEnd(17)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  server CPU ${r.serverCpuPercent.toFixed(0)}% (${r.serverCpuMicrosPerRequest.toFixed(0)} µs/req)  load gen ${((100 * r.loadCpuSeconds) / r.duration).toFixed(0)}%  others ${r.otherCpuPercent.toFixed(0)}%${r.errors ? `  ERRORS ${r.errors}: ${r.firstError}` : ''}`,
          );
        }
      }
    }

    const pairedRatio = (scenario, variant, base = 'floor') => {
      const of = (v, round) =>
        runs.find((r) => r.scenario === scenario && r.variant === v && r.round === round);
      const ratios = [];
      for (let round = 1; round <= ROUNDS; round++) ratios.push(of(variant, round).rps / of(base, round).rps);
      return median(ratios);
    };
    const summary = scenarios.map((sc) => {
      const of = (variant) => {
        const rs = runs.filter((r) => r.scenario === sc.name && r.variant === variant);
        return {
          rps: median(rs.map((r) => r.rps)),
          p50: median(rs.map((r) => r.p50)),
          p99: median(rs.map((r) => r.p99)),
          serverCpuPercent: median(rs.map((r) => r.serverCpuPercent)),
          serverCpuMicrosPerRequest: median(rs.map((r) => r.serverCpuMicrosPerRequest)),
          loadCpuPercent: median(rs.map((r) => (100 * r.loadCpuSeconds) / r.duration)),
          otherCpuPercent: median(rs.map((r) => r.otherCpuPercent)),
          errors: rs.reduce((n, r) => n + r.errors, 0),
          perRound: rs.map((r) => Math.round(r.rps)),
        };
      };
      const floor = of('floor');
      const floorBatched = of('floorBatched');
      const purserWarn = of('purserWarn');
      const purserInfo = of('purserInfo');
      return {
        scenario: sc.name,
        title: sc.title,
        sample: sc.sample,
        floor,
        floorBatched,
        purserWarn,
        purserInfo,
        // The machine's speed drifts within a run (a VM's neighbours): each Purser run is
        // divided by the floor run of its own round, seconds away, and the median of those
        // ratios is reported. The ratio of the medians is kept too.
        ratioWarn: pairedRatio(sc.name, 'purserWarn'),
        ratioInfo: pairedRatio(sc.name, 'purserInfo'),
        // Against the floor that batches its responses as Purser does: Purser's own cost.
        ratioBatchedWarn: pairedRatio(sc.name, 'purserWarn', 'floorBatched'),
        ratioBatchedInfo: pairedRatio(sc.name, 'purserInfo', 'floorBatched'),
        ratioBatchedFloor: pairedRatio(sc.name, 'floorBatched'),
        ratioOfMediansWarn: purserWarn.rps / floor.rps,
        ratioOfMediansInfo: purserInfo.rps / floor.rps,
      };
    });

    let profiles;
    if (PROFILE) {
      // Label each profile with its server and the requests it served (warm-ups included).
      const labels = {};
      for (const s of servers) {
        await stopServer(s);
        const served = runs.filter((r) => r.server === s.name).reduce((n, r) => n + r.totalRequests, 0);
        labels[s.child.pid] = { name: s.name, requests: served };
      }
      profiles = summarizeProfiles(PROFILE_DIR, 25, labels);
      log(profiles.text);
    }

    const result = {
      machine: machine(),
      settings: {
        rounds: ROUNDS,
        duration: DURATION,
        warmup: WARMUP,
        connections: CONNECTIONS,
        profile: PROFILE,
      },
      summary,
      runs,
      issuerHits: issuer.hits,
      profiles: profiles?.top,
      elapsedSeconds: Math.round((Date.now() - started) / 1000),
      loadAverage: {
        before: loadBefore,
        after: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      },
    };
    mkdirSync(join(BENCH, 'results'), { recursive: true });
    const file = join(BENCH, 'results', `${result.machine.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`\nraw results: ${file}`);
    const table = renderResults(result);
    process.stdout.write(`${table}\n`);
    if (env.BENCH_NO_README !== '1' && !PROFILE) {
      updateReadme(table);
      log('bench/README.md updated');
    }
  } finally {
    await bench.close();
    if (PROFILE_DIR) rmSync(PROFILE_DIR, { recursive: true, force: true });
  }
}

const f0 = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const pct = (n) => `${Math.round(n * 100)} %`;

function renderResults(r) {
  const m = r.machine;
  const s = r.settings;
  const lines = [
    `Measured ${m.date.slice(0, 10)} on ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}` +
      `${m.commit ? `, Purser at commit ${m.commit}` : ''}. ${s.rounds} rounds × (${s.warmup} s warm-up + ${s.duration} s measured) per server and scenario, ${s.connections} keep-alive connections; medians of the rounds, and Purser / floor the median of the rounds' ratios; the whole run took ${r.elapsedSeconds} s; load average ${r.loadAverage.before} before, ${r.loadAverage.after} after.`,
    '',
    "| scenario | server | req/s | req/s per round | p50 ms | p99 ms | server CPU | server CPU µs/req | others' CPU | ÷ floor, req/s | ÷ floor, CPU per req | ÷ batched floor, req/s |",
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const x of r.summary) {
    const row = (label, v, ratio, cpuRatio, batchedRatio) =>
      `| ${x.scenario} | ${label} | ${f0(v.rps)} | ${v.perRound.join(', ')} | ${f2(v.p50)} | ${f2(v.p99)} | ${f0(v.serverCpuPercent)} % | ${f0(v.serverCpuMicrosPerRequest)} | ${f0(v.otherCpuPercent)} % | ${ratio}${v.errors ? ` (${v.errors} errors)` : ''} | ${cpuRatio} | ${batchedRatio} |`;
    const eff = (v) => pct(x.floor.serverCpuMicrosPerRequest / v.serverCpuMicrosPerRequest);
    lines.push(row('floor', x.floor, '', '', ''));
    lines.push(row('batched floor', x.floorBatched, pct(x.ratioBatchedFloor), eff(x.floorBatched), ''));
    lines.push(
      row(
        'Purser, log warn',
        x.purserWarn,
        `**${pct(x.ratioWarn)}**`,
        eff(x.purserWarn),
        pct(x.ratioBatchedWarn),
      ),
    );
    lines.push(
      row(
        'Purser, info access log',
        x.purserInfo,
        `**${pct(x.ratioInfo)}**`,
        eff(x.purserInfo),
        pct(x.ratioBatchedInfo),
      ),
    );
  }
  lines.push('', 'Scenarios:', '');
  for (const x of r.summary)
    lines.push(`- **${x.scenario}**: ${x.title}; response ${x.sample.responseBytes} bytes.`);
  const below = (key, floorName) => {
    const out = r.summary.flatMap((x) =>
      [
        ['log warn', x[`${key}Warn`]],
        ['info access log', x[`${key}Info`]],
      ]
        .filter(([, v]) => v < 0.8)
        .map(([k, v]) => `${x.scenario} (${k}, ${pct(v)})`),
    );
    return out.length
      ? `Below 80 % of the ${floorName}: ${out.join('; ')}.`
      : `Every scenario is at or above 80 % of the ${floorName}.`;
  };
  lines.push('', `${below('ratio', 'floor')} ${below('ratioBatched', 'batched floor')}`);
  return lines.join('\n');
}

function updateReadme(table) {
  const file = join(BENCH, 'README.md');
  const begin = '<!-- results:begin (written by bench/run.js) -->';
  const end = '<!-- results:end -->';
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = `# Purser benchmarks\n\n## Results\n\n${begin}\n${end}\n`;
  }
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  const block = `${begin}\n${table}\n${end}`;
  text =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text}\n## Results\n\n${block}\n`;
  writeFileSync(file, text);
}

main().catch((e) => {
  log(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
