// A private containerd for e2e tests (ctr, and the runtime behind a private dockerd), with all
// of its state under one temp dir, plus helpers to find and undo mounts left under that dir.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onExit } from './cleanup.js';
import { type Proc, type RunResult, run, startProcess } from './proc.js';
import { removeDir } from './tmp.js';

export const CONTAINERD_BIN = process.env.PURSER_TEST_CONTAINERD_BIN ?? '/usr/bin/containerd';
export const CTR_BIN = process.env.PURSER_TEST_CTR_BIN ?? '/usr/bin/ctr';

/** Why a private containerd cannot run here, or undefined when it can. */
export function containerdUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'containerd tests need Linux';
  if (process.getuid?.() !== 0) return 'containerd tests need root';
  for (const bin of [CONTAINERD_BIN, CTR_BIN]) if (!existsSync(bin)) return `${bin} is not installed`;
  return undefined;
}

export interface Containerd {
  /** The directory holding the config, state and socket. */
  readonly dir: string;
  /** The gRPC socket. */
  readonly socket: string;
  readonly proc: Proc;
  /** Runs `ctr --address SOCKET ARGS...` in the `default` namespace. Never rejects on a non-zero exit. */
  ctr(args: string[], opts?: { input?: string | Buffer; timeout?: number }): Promise<RunResult>;
  logs(): string;
  /** SIGTERM, wait, then unmount anything still mounted under dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** An environment without the variables that would point ctr or a daemon elsewhere. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CONTAINERD_|DOCKER_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function toml(s: string): string {
  return JSON.stringify(s);
}

/**
 * Starts `containerd -c DIR/config.toml` with root, state, temp, the `opt` plugin and every
 * socket under dir, and the CRI plugin disabled. Ready when `ctr version` answers.
 */
export async function startContainerd(
  dir: string,
  opts: { readyTimeoutMs?: number } = {},
): Promise<Containerd> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const socket = join(dir, 'containerd.sock');
  const config = [
    'version = 2',
    `root = ${toml(join(dir, 'root'))}`,
    `state = ${toml(join(dir, 'state'))}`,
    `temp = ${toml(join(dir, 'tmp'))}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '',
    '[grpc]',
    `  address = ${toml(socket)}`,
    '',
    '[ttrpc]',
    `  address = ${toml(`${socket}.ttrpc`)}`,
    '',
    // Its default is /opt/containerd, which it would create on the host.
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${toml(join(dir, 'opt'))}`,
    '',
  ].join('\n');
  const configFile = join(dir, 'config.toml');
  writeFileSync(configFile, config);
  const env = cleanEnv({ TMPDIR: join(dir, 'tmp') });
  const proc = startProcess(CONTAINERD_BIN, ['-c', configFile], { env, name: 'containerd' });

  const ctr = (args: string[], o: { input?: string | Buffer; timeout?: number } = {}): Promise<RunResult> =>
    run(CTR_BIN, ['--address', socket, ...args], {
      env: cleanEnv({ CONTAINERD_NAMESPACE: 'default' }),
      timeout: o.timeout ?? 30_000,
      ...(o.input !== undefined ? { input: o.input } : {}),
    });

  // If the test process is interrupted, proc.ts SIGKILLs the daemon: undo its mounts then.
  const offExit = onExit(() => lastResortCleanup(dir));
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await proc.stop(15_000);
      await unmountUnder(dir);
      offExit();
    })();
    return stopped;
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (!proc.isRunning()) {
      await stop();
      throw new Error(`containerd exited during start-up:\n${proc.logs()}`);
    }
    if (existsSync(socket)) {
      const r = await ctr(['version'], { timeout: 5_000 });
      if (r.code === 0) break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd not ready within ${opts.readyTimeoutMs ?? 15_000} ms:\n${proc.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return { dir, socket, proc, ctr, logs: () => proc.logs(), stop };
}

/** Decodes the octal escapes (\040 etc.) of a /proc/self/mountinfo field. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Mount points at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const base = dir.replace(/\/+$/, '');
  const found: string[] = [];
  for (const line of info.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint === undefined) continue;
    const p = unescapeMountField(mountPoint);
    if (p === base || p.startsWith(`${base}/`)) found.push(p);
  }
  return found.sort((a, b) => b.length - a.length);
}

/** Unmounts everything still mounted under dir (lazily when a plain umount fails). Returns what it found. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  // Mounts may be stacked on one point: go round until none is left (bounded).
  for (let round = 0; round < 5; round++) {
    const now = mountsUnder(dir);
    if (now.length === 0) break;
    for (const m of now) {
      found.push(m);
      const r = await run('umount', [m], { timeout: 10_000 });
      if (r.code !== 0) await run('umount', ['-l', m], { timeout: 10_000 });
    }
  }
  return found;
}

/**
 * For exit and interruption only (synchronous): lazily unmounts whatever a killed daemon
 * left under dir, then removes dir.
 */
export function lastResortCleanup(dir: string): void {
  for (let round = 0; round < 3; round++) {
    const left = mountsUnder(dir);
    if (left.length === 0) break;
    for (const m of left) spawnSync('umount', ['-l', m], { timeout: 5_000, stdio: 'ignore' });
  }
  removeDir(dir);
}
