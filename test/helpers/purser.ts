// Purser itself, run through its CLI (`node bin/purser.js ...`) as a child process.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { purserBin, repoRoot } from './paths.js';
import { describeRun, type Proc, run, startProcess } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

/** The CLI to run; PURSER_TEST_BIN overrides it (e.g. to try the harness against a stand-in). */
const BIN = process.env.PURSER_TEST_BIN ?? purserBin;

export interface PurserOptions {
  /** Directory to write purser.yml into (relative paths in the config resolve from it). Temp dir if omitted. */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** Also wait for the proxy's listening line. Default: when the config has `proxy`. */
  proxy?: boolean;
  startTimeoutMs?: number;
}

export interface Purser {
  /** Token server base URL, http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Token endpoint: url + '/token' (the registry's realm). */
  realm: string;
  /** Proxy base URL when the config has a proxy section. */
  proxyUrl?: string;
  proxyPort?: number;
  dir: string;
  configPath: string;
  proc: Proc;
  logs(): string;
  stop(): Promise<void>;
}

interface ListeningLine {
  msg?: unknown;
  url?: unknown;
  server?: unknown;
}

function parseListening(line: string): ListeningLine | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    const obj = JSON.parse(line.slice(start)) as ListeningLine;
    return obj && obj.msg === 'listening' && typeof obj.url === 'string' ? obj : undefined;
  } catch {
    return undefined;
  }
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/**
 * Writes `config` as YAML and runs `node bin/purser.js serve --config FILE`. `listen` defaults to
 * 127.0.0.1:0 (and proxy.listen too); the ports come from the "listening" log lines.
 */
export async function startPurser(
  config: Record<string, unknown>,
  opts: PurserOptions = {},
): Promise<Purser> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? makeTempDir('purser-server-');
  // One process unless a test asks for workers (the suite runs many servers on few cores);
  // PURSER_TEST_WORKERS runs every test's server with that many.
  const workers = Number(process.env.PURSER_TEST_WORKERS ?? 1);
  const cfg: Record<string, unknown> = { listen: '127.0.0.1:0', workers, ...config };
  const wantProxy = opts.proxy ?? cfg.proxy !== undefined;
  if (cfg.proxy && typeof cfg.proxy === 'object') cfg.proxy = { listen: '127.0.0.1:0', ...cfg.proxy };
  const configPath = join(dir, 'purser.yml');
  writeFileSync(configPath, stringify(cfg));
  const proc = startProcess(process.execPath, [BIN, 'serve', '--config', configPath], {
    env: { ...process.env, ...(opts.env ?? {}) },
    cwd: dir,
    name: 'purser serve',
  });
  const cleanup = async (): Promise<void> => {
    await proc.stop(3_000);
    if (ownDir) removeDir(dir);
  };
  try {
    const timeout = opts.startTimeoutMs ?? 15_000;
    // The JSON "listening" line of the token server (or one with no server field).
    const tokenLine = await proc.waitForLine((l) => {
      const p = parseListening(l);
      return p !== undefined && (p.server === undefined || p.server === 'token');
    }, timeout);
    const tok = parseListening(tokenLine)!;
    const url = String(tok.url).replace(/\/+$/, '');
    let proxyUrl: string | undefined;
    if (wantProxy) {
      const proxyLine = await proc.waitForLine((l) => parseListening(l)?.server === 'proxy', timeout);
      proxyUrl = String(parseListening(proxyLine)!.url).replace(/\/+$/, '');
    }
    let stopped = false;
    return {
      url,
      port: portOf(url),
      realm: `${url}/token`,
      ...(proxyUrl !== undefined ? { proxyUrl, proxyPort: portOf(proxyUrl) } : {}),
      dir,
      configPath,
      proc,
      logs: () => proc.logs(),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export type KeyAlg = 'ES256' | 'RS256';

export interface KeyPair {
  dir: string;
  key: string;
  crt: string;
}

/** `node bin/purser.js keys generate --alg ALG --out DIR`: DIR/token.key and DIR/token.crt. */
export async function generateKeys(dir: string, alg: KeyAlg): Promise<KeyPair> {
  const r = await run(process.execPath, [BIN, 'keys', 'generate', '--alg', alg, '--out', dir], {
    cwd: repoRoot,
    timeout: 30_000,
  });
  if (r.code !== 0) throw new Error(`purser keys generate failed:\n${describeRun(r)}`);
  return { dir, key: join(dir, 'token.key'), crt: join(dir, 'token.crt') };
}
