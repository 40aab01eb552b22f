// In-process costs of the pieces issue 11 part 7 changed, old way next to new way in one run:
// an access-log line (bounded copies + JSON.stringify vs written straight from the fields) and
// one glob test (RE2 vs string operations). CPU time (process.cpuUsage), the best of many
// interleaved batches: on a shared machine the best batch is the least disturbed one.
//
//   npm run build && node bench/micro.js
import { compilePattern } from '../dist/src/authz/pattern.js';
import { bounded, fastJsonLine, LOG_LIMITS } from '../dist/src/util/log.js';
import { compileRe2 } from '../dist/src/util/re2.js';

const BATCHES = Number(process.env.BENCH_BATCHES ?? 15);

function boundedCopyLine(time, level, msg, bound, fields) {
  const out = {};
  for (const [k, v] of Object.entries({ ...bound, ...fields }))
    out[k] = bounded(v, 1, k === 'error' ? LOG_LIMITS.error : LOG_LIMITS.string);
  return `${JSON.stringify({ time, level, msg, ...out })}\n`;
}
const record = () => ({
  method: 'GET',
  ip: '127.0.0.1',
  grant_type: undefined,
  client_id: undefined,
  scope: ['repository:public/app:pull'],
  offline: undefined,
  account: '',
  provider: '',
  service: 'registry.bench',
  granted: ['repository:public/app:pull'],
  refresh_token_issued: undefined,
  status: 200,
  ms: 0.42,
});
const glob = compilePattern('public/**');
const re2 = compileRe2('^(?:public/.*)$');

const cases = {
  'log line, bounded copy (before)': () =>
    boundedCopyLine('2026-12-01T00:00:00.000Z', 'info', 'token issued', {}, record()).length,
  'log line, direct (after)': () =>
    fastJsonLine('2026-12-01T00:00:00.000Z', 'info', 'token issued', {}, record()).length,
  'glob public/** via RE2 (before)': () => (re2.test('public/app') ? 1 : 0),
  'glob public/** via strings (after)': () => (glob.test('public/app', undefined) ? 1 : 0),
};
const ITER = 20_000;
const best = Object.fromEntries(Object.keys(cases).map((k) => [k, Number.POSITIVE_INFINITY]));
for (let b = 0; b < BATCHES; b++) {
  for (const [name, f] of Object.entries(cases)) {
    let x = 0;
    const t = process.cpuUsage();
    for (let i = 0; i < ITER; i++) x += f();
    const u = process.cpuUsage(t);
    if (x < 0) throw new Error('unreachable');
    best[name] = Math.min(best[name], ((u.user + u.system) * 1000) / ITER);
  }
}
for (const [name, ns] of Object.entries(best))
  process.stdout.write(`${name.padEnd(36)} ${(ns / 1000).toFixed(3)} µs\n`);
