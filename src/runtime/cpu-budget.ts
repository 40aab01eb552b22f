import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * How many CPUs this process may keep busy: the available parallelism (the CPUs its affinity
 * mask allows), capped by the CPU quota of its cgroup and of every cgroup above it (a
 * container's `--cpus`, a Kubernetes CPU limit), rounded down and at least 1. libuv counts
 * the quota itself only from 1.49 (Node 22.12); on Node 20 a pod limited to 2 CPUs on a
 * 64-CPU node would otherwise start 64 workers, and be killed for the memory they take.
 *
 * `root` stands for `/` (tests give a directory laid out like /proc and /sys/fs/cgroup).
 */
export function cpuBudget(root = '/'): { cpus: number; quota: number | undefined } {
  const cpus = availableParallelism();
  const quota = cgroupCpuQuota(root);
  if (quota === undefined) return { cpus, quota };
  return { cpus: Math.max(1, Math.min(cpus, Math.floor(quota))), quota };
}

/** The tightest CPU quota over this process's cgroups (CPUs, may be fractional), if any. */
export function cgroupCpuQuota(root = '/'): number | undefined {
  const at = (p: string) => `${root.replace(/\/+$/, '')}${p}`;
  let lines: string[];
  try {
    lines = readFileSync(at('/proc/self/cgroup'), 'utf8').split('\n');
  } catch {
    return undefined; // not Linux, or no /proc
  }
  let best: number | undefined;
  const consider = (q: number | undefined) => {
    if (q !== undefined && q > 0 && (best === undefined || q < best)) best = q;
  };
  for (const line of lines) {
    // hierarchy-ID:controller-list:cgroup-path (cgroups(7))
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers === '' && line.slice(0, first) === '0') {
      for (const dir of ancestors(path)) consider(readV2(at(`/sys/fs/cgroup${dir}`)));
    } else if (controllers.split(',').includes('cpu')) {
      // v1: mounted as cpu or cpu,cpuacct; in a container the mount's root is the
      // container's own cgroup, so the path as /proc shows it may not exist under it.
      for (const mount of [
        '/sys/fs/cgroup/cpu',
        `/sys/fs/cgroup/${controllers}`,
        '/sys/fs/cgroup/cpu,cpuacct',
      ])
        for (const dir of ancestors(path)) consider(readV1(at(`${mount}${dir}`)));
    }
  }
  return best;
}

/** `/a/b` → `/a/b`, `/a`, `` (the mount's root). */
function ancestors(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  const out: string[] = [];
  for (let n = parts.length; n >= 0; n--) out.push(n === 0 ? '' : `/${parts.slice(0, n).join('/')}`);
  return out;
}

/** cgroup v2 `cpu.max`: `max 100000` (no quota) or `QUOTA PERIOD` in microseconds. */
function readV2(dir: string): number | undefined {
  const text = readSmall(`${dir}/cpu.max`);
  if (text === undefined) return undefined;
  const [quota, period] = text.trim().split(/\s+/);
  return ratio(quota, period);
}

/** cgroup v1 `cpu.cfs_quota_us` (-1: no quota) over `cpu.cfs_period_us`. */
function readV1(dir: string): number | undefined {
  const quota = readSmall(`${dir}/cpu.cfs_quota_us`);
  if (quota === undefined) return undefined;
  return ratio(quota.trim(), readSmall(`${dir}/cpu.cfs_period_us`)?.trim());
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period))
    return undefined;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

function readSmall(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').slice(0, 256);
  } catch {
    return undefined;
  }
}
