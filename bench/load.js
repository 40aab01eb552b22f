// The load generator: an undici Pool with N keep-alive connections, one request in flight per
// connection (closed loop), GET `path` with the given headers for `warmup` + `duration`
// seconds. Only requests that start and finish inside the measured window count. Prints one
// JSON line `{"event":"measuring"}` when the window opens (so the runner can sample the
// server's CPU time) and one `{"event":"done", ...}` line with the results.
//
//   node bench/load.js '{"url":"http://127.0.0.1:5001","path":"/token?...","headers":{},
//                        "connections":32,"warmup":2,"duration":10}'
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const opts = JSON.parse(process.argv[2] ?? '{}');
const { url, path, headers = {}, connections = 32, warmup = 2, duration = 10, rate = 0 } = opts;

const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 120_000 });
let latencies = new Float64Array(1 << 20);
let count = 0;
let errors = 0;
let total = 0;
let firstError;
let measureStart = Number.POSITIVE_INFINITY;
let measureEnd = Number.POSITIVE_INFINITY;
let stop = false;
let cpuAtStart;

function record(ms) {
  if (count === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[count++] = ms;
}

// `rate` (requests/second, all connections together): each request waits for its slot on one
// schedule, so the server sees the same offered load whatever its speed (an open loop, as long
// as it keeps up); 0: closed loop, each connection sends as soon as its answer came.
const started = performance.now();
let slots = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function loop() {
  while (!stop) {
    if (rate > 0) {
      const due = started + (slots++ * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
    const t0 = performance.now();
    let ok = false;
    try {
      const { statusCode, body } = await pool.request({ path, method: 'GET', headers });
      const text = await body.text();
      ok = statusCode === 200;
      if (!ok && firstError === undefined) firstError = `HTTP ${statusCode}: ${text.slice(0, 300)}`;
    } catch (e) {
      if (firstError === undefined) firstError = e.message;
    }
    const t1 = performance.now();
    total++;
    if (t0 >= measureStart && t1 <= measureEnd) {
      if (ok) record(t1 - t0);
      else errors++;
    }
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const loops = Array.from({ length: connections }, () => loop());
setTimeout(() => {
  measureStart = performance.now();
  measureEnd = measureStart + duration * 1000;
  cpuAtStart = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ event: 'measuring' })}\n`);
  setTimeout(async () => {
    stop = true;
    const cpu = process.cpuUsage(cpuAtStart);
    await Promise.all(loops);
    await pool.close();
    const sorted = latencies.subarray(0, count).sort();
    let sum = 0;
    for (let i = 0; i < count; i++) sum += sorted[i];
    const result = {
      event: 'done',
      connections,
      duration,
      requests: count,
      totalRequests: total,
      errors,
      firstError,
      rps: count / duration,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: count ? sorted[count - 1] : Number.NaN,
      mean: count ? sum / count : Number.NaN,
      loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }, duration * 1000);
}, warmup * 1000);
