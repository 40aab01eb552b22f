// serve's default worker count: the available parallelism capped by the CPU quota of the
// process's cgroups (v2 cpu.max, v1 cfs quota/period), over a directory laid out like / with
// /proc/self/cgroup and /sys/fs/cgroup, the way a container or a pod sees them.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { cgroupCpuQuota, cpuBudget } from '../../../src/runtime/cpu-budget.js';
import { tempDir } from '../support.js';

function root(files: Record<string, string>): { dir: string; cleanup: () => void } {
  const t = tempDir('purser-cgroup-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(t.dir, name)), { recursive: true });
    writeFileSync(join(t.dir, name), text);
  }
  return t;
}

describe('cpuBudget', () => {
  test('cgroup v2 in a container (path /): cpu.max 250000 100000 → quota 2.5, 2 workers at most', () => {
    const t = root({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '250000 100000\n' });
    try {
      assert.equal(cgroupCpuQuota(t.dir), 2.5);
      assert.deepEqual(cpuBudget(t.dir), { cpus: Math.min(2, availableParallelism()), quota: 2.5 });
    } finally {
      t.cleanup();
    }
  });

  test('cgroup v2: the tightest of the cgroup and its parents; "max" is no quota', () => {
    const t = root({
      'proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
      'sys/fs/cgroup/cpu.max': 'max 100000\n',
      'sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
      'sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n',
      'sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000\n',
    });
    try {
      assert.equal(cgroupCpuQuota(t.dir), 1.5);
      assert.equal(cpuBudget(t.dir).cpus, 1);
    } finally {
      t.cleanup();
    }
  });

  test('a quota under one CPU still gives one worker', () => {
    const t = root({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '20000 100000\n' });
    try {
      assert.deepEqual(cpuBudget(t.dir), { cpus: 1, quota: 0.2 });
    } finally {
      t.cleanup();
    }
  });

  test('cgroup v1 (cpu,cpuacct), the container seeing its own cgroup at the mount root', () => {
    const t = root({
      'proc/self/cgroup': '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '300000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    try {
      assert.equal(cgroupCpuQuota(t.dir), 3);
    } finally {
      t.cleanup();
    }
  });

  test('no quota (v1 -1, v2 max), no cgroup files, or garbage: the available parallelism', () => {
    const cases: Record<string, string>[] = [
      {
        'proc/self/cgroup': '1:cpu:/\n',
        'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
        'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
      },
      { 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'max 100000\n' },
      { 'proc/self/cgroup': '0::/\n' },
      { 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '1e9 0\n' },
      { 'proc/self/cgroup': 'no colons here\n' },
      {},
    ];
    for (const files of cases) {
      const t = root(files);
      try {
        assert.deepEqual(
          cpuBudget(t.dir),
          { cpus: availableParallelism(), quota: undefined },
          JSON.stringify(files),
        );
      } finally {
        t.cleanup();
      }
    }
  });

  test('on this machine: a whole number from 1 to the available parallelism', () => {
    const { cpus } = cpuBudget();
    assert.ok(Number.isInteger(cpus) && cpus >= 1 && cpus <= availableParallelism());
  });
});
