// The embedded default's private registry: distribution's `registry serve` as a child process,
// its auth.token pointing at this Purser. It must never outlive Purser, even one killed with
// SIGKILL, so it runs under a small /bin/sh watchdog that holds one end of a socket pair: when
// Purser closes its end (on stop) or dies (the kernel closes it), the watchdog stops the registry.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { stringify } from 'yaml';
import { PurserError } from '../core/errors.js';
import { lineSplitter, shortenRegistryLine } from './registry-log.js';
import { UsageError } from './usage.js';

/** Names distribution's registry is installed under (Debian's package, upstream's build). */
export const REGISTRY_BINS = ['docker-registry', 'registry'] as const;
export const DEFAULT_REGISTRY_LISTEN = '127.0.0.1:5000';
/** How many ports after the default to try when it is taken. */
const PORT_SPAN = 20;
const TAIL_LINES = 20;
const PID_MARK = 'purser-dev-registry-pid ';

/**
 * $1 = registry binary, $2 = its config. Prints the registry's pid, then waits for EOF on fd 3
 * (Purser's end of the socket pair closed) to SIGTERM it, and exits with the registry's status.
 * Its own stderr goes to /dev/null once both are started: no "Terminated" job notices.
 */
const WATCHDOG = `"$1" serve "$2" 3<&- &
c=$!
echo "${PID_MARK}$c"
{ read -r _ <&3; kill -TERM "$c"; } 2>/dev/null &
w=$!
exec 2>/dev/null
wait "$c"; s=$?
kill "$w" 2>/dev/null
exit "$s"
`;

function isExecutableFile(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The first of REGISTRY_BINS on PATH, or undefined. */
export function findRegistryBin(path: string | undefined = process.env.PATH): string | undefined {
  for (const name of REGISTRY_BINS) {
    for (const dir of (path ?? '').split(delimiter)) {
      if (!dir) continue;
      const p = join(dir, name);
      if (isExecutableFile(p)) return p;
    }
  }
  return undefined;
}

/** `--registry-bin PATH`: an executable file, or a usage error naming it. */
export function checkRegistryBin(p: string): string {
  const abs = resolve(p);
  if (!isExecutableFile(abs)) throw new UsageError(`--registry-bin ${p}: not an executable file`);
  return abs;
}

export interface DevRegistryOptions {
  bin: string;
  /** The embedded default's state dir (./.purser): registry.yml and registry/ go there. */
  baseDir: string;
  /** host:port to try first; the next ports are tried when it is taken; port 0: any free port. */
  listen: string;
  realm: string;
  service: string;
  issuer: string;
  rootcertbundle: string;
  /** Ports not to take (Purser's own). */
  avoidPorts?: number[];
  /** Receives each shortened, prefixed log line. */
  output: (line: string) => void;
  startTimeoutMs?: number;
}

export interface DevRegistry {
  /** host:port, as image references want it. */
  host: string;
  url: string;
  /** The registry process (not the watchdog). */
  pid: number;
  watchdogPid: number;
  configPath: string;
  storage: string;
  /** Resolves with the registry's exit status when it has exited, however it stopped. */
  readonly exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

/** `host:port` (`[v6]:port` too) of the registry's listen address; a usage error when malformed. */
export function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m?.[1] || port > 65535) throw new UsageError(`PURSER_REGISTRY_LISTEN=${listen}: want HOST:PORT`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** Binds host:port (port 0: the kernel picks) and releases it: the port, or undefined when taken. */
function probePort(host: string, port: number): Promise<number | undefined> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(undefined));
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address();
      const got = addr && typeof addr === 'object' ? addr.port : undefined;
      srv.close(() => res(got));
    });
  });
}

async function freePorts(host: string, first: number, avoid: number[]): Promise<number[]> {
  if (first === 0) {
    const p = await probePort(host, 0);
    return p === undefined ? [] : [p];
  }
  const out: number[] = [];
  for (let p = first; p < first + PORT_SPAN && p <= 65535; p++) {
    if (avoid.includes(p)) continue;
    if ((await probePort(host, p)) !== undefined) out.push(p);
    if (out.length >= 3) break;
  }
  return out;
}

function childEnv(): NodeJS.ProcessEnv {
  // REGISTRY_* variables override the registry's config file: never pass them on.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

const hostRef = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** Starts the registry; rejects (UNAVAILABLE, with its last log lines) when it cannot. */
export async function startDevRegistry(opts: DevRegistryOptions): Promise<DevRegistry> {
  const { host, port } = splitHostPort(opts.listen);
  const storage = join(opts.baseDir, 'registry');
  mkdirSync(storage, { recursive: true, mode: 0o700 });
  const configPath = join(opts.baseDir, 'registry.yml');
  const ports = await freePorts(host, port, opts.avoidPorts ?? []);
  if (ports.length === 0) {
    throw new PurserError('UNAVAILABLE', `no free port for the registry from ${opts.listen} on`);
  }
  let last: PurserError | undefined;
  for (const p of ports) {
    const r = await startOn(opts, host, p, configPath, storage);
    if ('registry' in r) return r.registry;
    last = r.error;
    // Someone took the port between the probe and the registry's bind: try the next one.
    if (!r.portTaken) break;
  }
  throw last!;
}

async function startOn(
  opts: DevRegistryOptions,
  host: string,
  port: number,
  configPath: string,
  storage: string,
): Promise<{ registry: DevRegistry } | { error: PurserError; portTaken: boolean }> {
  const config = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storage },
      delete: { enabled: true },
    },
    http: { addr: hostRef(host, port), secret: randomBytes(16).toString('hex') },
    auth: {
      token: {
        realm: opts.realm,
        service: opts.service,
        issuer: opts.issuer,
        rootcertbundle: opts.rootcertbundle,
      },
    },
  };
  writeFileSync(configPath, stringify(config), { mode: 0o600 });
  const child: ChildProcess = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, 'purser-registry-watchdog', opts.bin, configPath],
    {
      env: childEnv(),
      cwd: opts.baseDir,
      // Own process group: a terminal's Ctrl-C reaches Purser only, which then stops the registry.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    },
  );
  const tail: string[] = [];
  let pid = -1;
  let gotPid: () => void = () => {};
  const pidKnown = new Promise<void>((r) => {
    gotPid = r;
  });
  const onLine = (line: string): void => {
    if (pid < 0 && line.startsWith(PID_MARK)) {
      pid = Number(line.slice(PID_MARK.length));
      gotPid();
      return;
    }
    const short = shortenRegistryLine(line);
    tail.push(short);
    if (tail.length > TAIL_LINES) tail.shift();
    opts.output(short);
  };
  for (const s of [child.stdout, child.stderr] as Readable[]) {
    const split = lineSplitter(onLine);
    s.setEncoding('utf8');
    s.on('data', (c: string) => split.push(c));
    s.on('end', () => split.end());
  }
  const lifeline = child.stdio[3] as Writable;
  lifeline.on('error', () => {
    // the watchdog is gone; its exit is handled below
  });
  const exited = new Promise<number | null>((res) => {
    child.once('error', () => res(null));
    child.once('close', (code) => {
      lifeline.destroy();
      res(code);
    });
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const url = `http://${hostRef(host, port)}`;
  const failure = (why: string): PurserError =>
    new PurserError('UNAVAILABLE', `the development registry did not start: ${why}`, {
      detail: tail.join('\n'),
    });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  let ready = false;
  while (running && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      // 401: it answers, and with token auth on.
      if (res.status === 401) {
        ready = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!ready) {
    const exitedEarly = !running;
    if (!exitedEarly) await stopChild(child, lifeline, pid, exited, 2_000);
    const portTaken = tail.some((l) => l.includes('address already in use'));
    const last = tail
      .map((l) => l.replace(/^\[registry\] /, ''))
      .filter((l) => !l.startsWith('goroutine'))
      .slice(-3)
      .join(' | ');
    return {
      error: failure(exitedEarly ? `it exited: ${last || 'no output'}` : `no answer on ${url} in time`),
      portTaken,
    };
  }
  await Promise.race([pidKnown, exited]);
  return {
    registry: {
      host: hostRef(host, port),
      url,
      pid,
      watchdogPid: child.pid ?? -1,
      configPath,
      storage,
      exited,
      stop: (graceMs = 5_000) => stopChild(child, lifeline, pid, exited, graceMs),
    },
  };
}

/** Closes the lifeline (the watchdog then SIGTERMs the registry); SIGKILLs both after graceMs. */
async function stopChild(
  child: ChildProcess,
  lifeline: Writable,
  pid: number,
  exited: Promise<number | null>,
  graceMs: number,
): Promise<void> {
  lifeline.destroy();
  const timer = setTimeout(() => {
    for (const p of [pid, child.pid ?? -1]) {
      if (p <= 0) continue;
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
