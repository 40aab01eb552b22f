// One closed-loop load run (bench/load.js in its own process) against a server started with
// setup.js's startServer, with the server's CPU time and RSS sampled over the measured window.
// Shared by acl-scale.js and soak.js (run.js keeps its own copy, with the machine's CPU too).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH, CLK_TCK } from './setup.js';

export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

/** Resident set size of a process, MiB. */
export function rssMiB(pid) {
  const m = /^VmRSS:\s*(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Proportional set size, MiB: RSS with each shared page divided among the processes mapping it. */
export function pssMiB(pid) {
  const m = /^Pss:\s*(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** The direct children of a process (a `serve --workers N` primary's workers). */
export function children(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

/** RSS of a process and its children, MiB: what a `serve` with workers holds in all. */
export function rssTreeMiB(pid) {
  return [pid, ...children(pid)].reduce((sum, p) => sum + rssMiB(p), 0);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** spec: { path, headers, connections, warmup, duration }; resolves with load.js's result + CPU. */
export function runLoad(server, spec) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(BENCH, 'load.js'), JSON.stringify({ url: server.url, ...spec })],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let buf = '';
    let ticks0;
    let result;
    child.stdout.on('data', (c) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (msg.event === 'measuring') ticks0 = cpuTicks(server.child.pid);
        else if (msg.event === 'done') {
          const cpuSeconds = (cpuTicks(server.child.pid) - ticks0) / CLK_TCK;
          result = {
            ...msg,
            serverCpuPercent: (100 * cpuSeconds) / spec.duration,
            serverCpuMicrosPerRequest: msg.requests ? (cpuSeconds * 1e6) / msg.requests : Number.NaN,
            rssMiB: rssMiB(server.child.pid),
          };
          delete result.event;
        }
      }
    });
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`load generator exited with ${code}`));
    });
  });
}
