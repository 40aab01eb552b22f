// Summarizes V8 .cpuprofile files (node --cpu-prof): where the busy time went, by function
// (self and inclusive) and by file. Used by `BENCH_PROFILE=1 npm run bench`; also runs alone:
//
//   node bench/profile.js DIR_OR_FILE [TOP]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IDLE = new Set(['(idle)', '(root)']);

function where(cf) {
  let url = cf.url || '';
  if (url.startsWith('file://')) url = fileURLToPath(url);
  if (url.startsWith(ROOT)) url = relative(ROOT, url);
  url = url.replace(/^.*node_modules\//, 'node_modules/');
  return {
    file: url || '(native)',
    label: `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim(),
  };
}

/** Self and inclusive busy time per function and self time per file, in ms and % of busy time. */
export function summarizeProfile(file, top = 25, requests = 0) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const incl = new Map();
  const files = new Map();
  let busy = 0;
  const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(prof.samples[i]);
    if (!node || IDLE.has(node.callFrame.functionName)) continue;
    busy += dt;
    const w = where(node.callFrame);
    add(self, w.label, dt);
    add(files, w.file, dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id).callFrame;
      if (cf.functionName === '(root)') break;
      const l = where(cf).label;
      if (!seen.has(l)) {
        seen.add(l);
        add(incl, l, dt);
      }
    }
  }
  const perReq = (ms) => (requests ? Math.round((ms * 1e4) / requests) / 10 : undefined);
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({
        name,
        ms: Math.round(ms),
        percent: Math.round((1000 * ms) / busy) / 10,
        usPerRequest: perReq(ms),
      }));
  return {
    file: basename(file),
    busyMs: Math.round(busy),
    requests,
    busyUsPerRequest: perReq(busy),
    self: rank(self),
    inclusive: rank(incl),
    files: rank(files),
  };
}

/** `labels`: pid → { name, requests } to name each profile and give per-request costs. */
export function summarizeProfiles(path, top = 25, labels = {}) {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(path, f))
    : [path];
  const summaries = files.map((f) => {
    const pid = /^CPU\.\d+\.\d+\.(\d+)\./.exec(basename(f))?.[1];
    const label = labels[pid];
    return { server: label?.name, ...summarizeProfile(f, top, label?.requests ?? 0) };
  });
  const fmt = (rows) =>
    rows
      .map(
        (r) =>
          `  ${String(r.percent).padStart(5)} %  ${String(r.ms).padStart(6)} ms${r.usPerRequest === undefined ? '' : `  ${String(r.usPerRequest).padStart(6)} µs/req`}  ${r.name}`,
      )
      .join('\n');
  const text = summaries
    .map(
      (s) =>
        `== ${s.server ?? s.file}: ${s.busyMs} ms busy${s.requests ? `, ${s.requests} requests, ${s.busyUsPerRequest} µs/req` : ''}\n-- self time by function\n${fmt(s.self)}\n-- inclusive time by function\n${fmt(s.inclusive)}\n-- self time by file\n${fmt(s.files)}`,
    )
    .join('\n\n');
  return { top: summaries, text };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${summarizeProfiles(process.argv[2], Number(process.argv[3] ?? 25)).text}\n`);
}
