// A private dockerd for e2e tests, with all of its state under one temp dir, driven by
// Debian's docker CLI; plus a tiny docker-archive image builder for `docker load`/`ctr import`.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { onExit } from './cleanup.js';
import {
  type Containerd,
  cleanEnv,
  containerdUnavailable,
  lastResortCleanup,
  startContainerd,
  unmountUnder,
} from './containerd.js';
import { type Proc, type RunResult, run, startProcess } from './proc.js';

export const DOCKERD_BIN =
  process.env.PURSER_TEST_DOCKERD_BIN ??
  ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p)) ??
  '/usr/sbin/dockerd';
/** Debian's CLI: another `docker` (a newer one) may come first on PATH. */
export const DOCKER_BIN = process.env.PURSER_TEST_DOCKER_BIN ?? '/usr/bin/docker';

/** Why a private dockerd cannot run here, or undefined when it can. */
export function dockerdUnavailable(): string | undefined {
  const c = containerdUnavailable();
  if (c !== undefined) return c;
  for (const bin of [DOCKERD_BIN, DOCKER_BIN]) if (!existsSync(bin)) return `${bin} is not installed`;
  return undefined;
}

export interface DockerdOptions {
  /** host:port entries for `--insecure-registry` (they must be known before dockerd starts). */
  insecureRegistries?: string[];
  readyTimeoutMs?: number;
}

export interface Dockerd {
  readonly dir: string;
  readonly socket: string;
  /** DOCKER_CONFIG of the CLI: config.json (and credentials) land here. */
  readonly configDir: string;
  readonly proc: Proc;
  readonly containerd: Containerd;
  /** Environment for the CLI: DOCKER_HOST and DOCKER_CONFIG set, other DOCKER_* removed. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs `/usr/bin/docker ARGS...` against this daemon. Never rejects on a non-zero exit. */
  docker(args: string[], opts?: { input?: string | Buffer; timeout?: number }): Promise<RunResult>;
  logs(): string;
  /** SIGTERM dockerd then its containerd, wait for both, unmount leftovers under dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Removes /run/docker/plugins and /run/docker (which dockerd always creates) if they are empty. */
function removeRunDocker(): void {
  for (const d of ['/run/docker/plugins', '/run/docker']) {
    try {
      rmdirSync(d); // only if empty
    } catch {
      // in use or not empty: leave it
    }
  }
}

/** GET http://docker/_ping over the unix socket; true when it answers 200 OK. */
export function ping(socket: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Starts dockerd with data-root, exec-root, pidfile, socket and key file under dir, the vfs
 * storage driver, no iptables, no bridge, and a private containerd (also under dir, so
 * nothing is created under /opt or /run/containerd). Ready when /_ping answers OK.
 */
export async function startDockerd(dir: string, opts: DockerdOptions = {}): Promise<Dockerd> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  // dockerd always creates /run/docker/plugins; remove it again on stop if it was not there.
  const runDockerExisted = existsSync('/run/docker');
  const containerd = await startContainerd(join(dir, 'containerd'));
  const socket = join(dir, 'docker.sock');
  const configDir = join(dir, 'cfg');
  mkdirSync(configDir, { recursive: true });
  const daemonJson = join(dir, 'daemon.json');
  writeFileSync(daemonJson, `${JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }, null, 2)}\n`);
  const args = [
    '--config-file',
    daemonJson,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '-H',
    `unix://${socket}`,
    '--containerd',
    containerd.socket,
    '--storage-driver',
    'vfs',
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
  ];
  for (const r of opts.insecureRegistries ?? []) args.push('--insecure-registry', r);
  const proc = startProcess(DOCKERD_BIN, args, {
    env: cleanEnv({ TMPDIR: join(dir, 'containerd', 'tmp') }),
    name: 'dockerd',
  });
  const env = cleanEnv({ DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: configDir });

  // If the test process is interrupted, proc.ts SIGKILLs dockerd: undo its mounts then.
  const offExit = onExit(() => {
    lastResortCleanup(dir);
    if (!runDockerExisted) removeRunDocker();
  });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        await proc.stop(30_000);
      } finally {
        await containerd.stop();
        await unmountUnder(dir);
        offExit();
        if (!runDockerExisted) removeRunDocker();
      }
    })();
    return stopped;
  };

  const docker = (a: string[], o: { input?: string | Buffer; timeout?: number } = {}): Promise<RunResult> =>
    run(DOCKER_BIN, a, {
      env,
      timeout: o.timeout ?? 60_000,
      ...(o.input !== undefined ? { input: o.input } : {}),
    });

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (!proc.isRunning()) {
      await stop();
      throw new Error(`dockerd exited during start-up:\n${proc.logs()}`);
    }
    if (existsSync(socket) && (await ping(socket))) break;
    if (Date.now() > deadline) {
      const logs = proc.logs();
      await stop();
      throw new Error(`dockerd not ready within ${readyTimeoutMs} ms:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return { dir, socket, configDir, proc, containerd, env, docker, logs: () => proc.logs(), stop };
}

/** Reads the CLI's config.json (auths, credsStore, ...), or {} when there is none. */
export function readDockerConfig(configDir: string): Record<string, unknown> {
  const file = join(configDir, 'config.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

// ---- a minimal ustar writer and a docker-archive image -------------------------------------

export interface TarEntry {
  name: string;
  /** Omitted for a directory (name ends with '/'). */
  data?: Buffer;
  mode?: number;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** A POSIX ustar archive (names up to 100 bytes), with two zero blocks at the end. */
export function makeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.name.endsWith('/');
    const data = isDir ? Buffer.alloc(0) : (e.data ?? Buffer.alloc(0));
    if (Buffer.byteLength(e.name) > 100) throw new Error(`tar name too long: ${e.name}`);
    const h = Buffer.alloc(512, 0);
    h.write(e.name, 0, 100, 'utf8');
    h.write(octal(e.mode ?? (isDir ? 0o755 : 0o644), 8), 100, 'ascii');
    h.write(octal(0, 8), 108, 'ascii'); // uid
    h.write(octal(0, 8), 116, 'ascii'); // gid
    h.write(octal(data.length, 12), 124, 'ascii');
    h.write(octal(1_700_000_000, 12), 136, 'ascii'); // a fixed mtime: reproducible digests
    h.write('        ', 148, 'ascii'); // checksum field counts as spaces
    h.write(isDir ? '5' : '0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    h.write('root', 265, 'ascii');
    h.write('root', 297, 'ascii');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    parts.push(h, data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function goArch(): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return map[process.arch] ?? process.arch;
}

export interface DockerArchive {
  /** The `docker save` format tar: manifest.json, the config and one layer.tar. */
  tar: Buffer;
  /** sha256:... of the config, which docker shows as the image ID. */
  imageId: string;
  /** sha256:... of the uncompressed layer. */
  diffId: string;
}

/**
 * A one-layer image for this machine's platform, in docker-archive form, tagged repoTags.
 * The layer holds a few random files, so each call gives a different image.
 */
export function dockerArchive(repoTags: string[], layerBytes = 4096): DockerArchive {
  const layer = makeTar([
    { name: 'purser-e2e/' },
    { name: 'purser-e2e/random.bin', data: randomBytes(layerBytes) },
    { name: 'purser-e2e/id.txt', data: Buffer.from(`${randomBytes(8).toString('hex')}\n`) },
  ]);
  const diffId = `sha256:${sha256(layer)}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: goArch(),
      os: 'linux',
      created: '2023-11-14T22:13:20Z',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: '2023-11-14T22:13:20Z', created_by: 'purser e2e test layer' }],
    }),
  );
  const configHex = sha256(config);
  const layerDir = sha256(layer);
  const manifest = Buffer.from(
    JSON.stringify([{ Config: `${configHex}.json`, RepoTags: repoTags, Layers: [`${layerDir}/layer.tar`] }]),
  );
  const tar = makeTar([
    { name: `${layerDir}/` },
    { name: `${layerDir}/layer.tar`, data: layer },
    { name: `${configHex}.json`, data: config },
    { name: 'manifest.json', data: manifest },
  ]);
  return { tar, imageId: `sha256:${configHex}`, diffId };
}

// ---- Purser's token-request log lines -------------------------------------------------------

export interface TokenRequestLog {
  method: string | undefined;
  /** `password`, `refresh_token`, or undefined for a GET. */
  grantType: string | undefined;
  status: number | undefined;
  /** The whole parsed line. */
  raw: Record<string, unknown>;
}

function field(obj: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) {
    if (obj[n] !== undefined) return obj[n];
    for (const nest of ['req', 'request', 'res', 'response']) {
      const sub = obj[nest];
      if (sub && typeof sub === 'object' && (sub as Record<string, unknown>)[n] !== undefined)
        return (sub as Record<string, unknown>)[n];
    }
  }
  return undefined;
}

/**
 * The token requests in Purser's JSON log output: one JSON line per request to /token,
 * with its method and grant type (field names tolerated in a few spellings).
 */
export function tokenRequests(logs: string): TokenRequestLog[] {
  const out: TokenRequestLog[] = [];
  for (const line of logs.split('\n')) {
    const start = line.indexOf('{');
    if (start < 0) continue;
    let obj: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(line.slice(start));
      if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
      obj = v as Record<string, unknown>;
    } catch {
      continue;
    }
    const grant = field(obj, 'grant_type', 'grantType', 'grant');
    const path = field(obj, 'path', 'url', 'route');
    const msg = field(obj, 'msg', 'message');
    // Purser logs `"msg":"token issued"` or `"msg":"token request refused"`, with method,
    // grant_type (POST only), scope, account, status.
    const isToken =
      grant !== undefined ||
      (typeof path === 'string' && /^\/token(\?|$)/.test(path)) ||
      (typeof msg === 'string' && /^token (issued|request)/i.test(msg));
    if (!isToken) continue;
    const method = field(obj, 'method');
    const status = field(obj, 'status', 'statusCode');
    out.push({
      method: typeof method === 'string' ? method.toUpperCase() : undefined,
      grantType: typeof grant === 'string' && grant !== '' ? grant : undefined,
      status: typeof status === 'number' ? status : typeof status === 'string' ? Number(status) : undefined,
      raw: obj,
    });
  }
  return out;
}

/**
 * The token requests logged after `mark` characters of `logs()`, once at least one is there and
 * no new one arrived for quietMs: a client can finish before the server's log line has crossed
 * the pipe. Gives up (returning what there is) after timeoutMs.
 */
export async function settledTokenRequests(
  logs: () => string,
  mark: number,
  quietMs = 250,
  timeoutMs = 3_000,
): Promise<TokenRequestLog[]> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const reqs = tokenRequests(logs().slice(mark));
    if (reqs.length > 0 && reqs.length === last) return reqs;
    if (Date.now() > deadline) return reqs;
    last = reqs.length;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}
