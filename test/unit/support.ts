// Shared helpers for the unit tests (not a test file itself).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bcryptHashSync } from '../../src/authn/bcrypt.js';
import { writeKeyPair } from '../../src/cli/keys.js';
import { buildConfig, type Config } from '../../src/config/load.js';
import { isPurserError, type PurserErrorCode } from '../../src/core/errors.js';
import { type AppState, buildApp } from '../../src/server/app.js';
import { TokenHttpServer } from '../../src/server/http.js';
import { Metrics } from '../../src/server/metrics.js';
import type { SigningAlgorithm } from '../../src/token/keys.js';
import { createLogger, type Logger, silentLogger } from '../../src/util/log.js';

/** A fresh temp dir removed when `cleanup` runs. */
export function tempDir(prefix = 'purser-unit-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** A cheap bcrypt hash (cost 4) for tests that do not measure bcrypt. */
export function cheapHash(pw: string): string {
  return bcryptHashSync(pw, 4);
}

/** assert.throws predicate: a PurserError with this code (and, optionally, message text). */
export function purserError(code: PurserErrorCode, ...includes: (string | RegExp)[]) {
  return (e: unknown): boolean => {
    if (!isPurserError(e)) throw new Error(`expected a PurserError ${code}, got ${String(e)}`);
    if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`);
    for (const inc of includes) {
      const ok = typeof inc === 'string' ? e.message.includes(inc) : inc.test(e.message);
      if (!ok) throw new Error(`message ${JSON.stringify(e.message)} lacks ${String(inc)}`);
    }
    return true;
  };
}

export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: Buffer;
} {
  const [h, p, s] = token.split('.');
  if (h === undefined || p === undefined || s === undefined) throw new Error(`not a compact JWS: ${token}`);
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>,
    signature: Buffer.from(s, 'base64url'),
  };
}

export interface KeyFiles {
  dir: string;
  keyPath: string;
  crtPath: string;
  libtrust: string;
  thumbprint: string;
}

export async function makeKeys(alg: SigningAlgorithm = 'ES256'): Promise<KeyFiles & { cleanup: () => void }> {
  const t = tempDir('purser-unit-keys-');
  const r = await writeKeyPair(t.dir, alg);
  return { dir: t.dir, ...r, cleanup: t.cleanup };
}

/** A minimal valid config object around a key file; `extra` is merged at the top level. */
export function configObject(
  keys: KeyFiles,
  extra: Record<string, unknown> = {},
  token: Record<string, unknown> = {},
) {
  return {
    listen: '127.0.0.1:0',
    token: {
      issuer: 'purser-test',
      service: 'registry.test',
      key: keys.keyPath,
      certificate: keys.crtPath,
      ...token,
    },
    acl: [{ match: { account: '' }, actions: ['pull'] }],
    ...extra,
  };
}

export interface RunningServer {
  url: string;
  server: TokenHttpServer;
  state: AppState;
  config: Readonly<Config>;
  metrics: Metrics;
  logs: string[];
  close: () => Promise<void>;
}

/** Builds the app for a config object and serves it on 127.0.0.1:0. */
export async function startServer(
  configObj: unknown,
  baseDir: string,
  opts: { captureLogs?: boolean } = {},
): Promise<RunningServer> {
  const config = buildConfig(configObj, undefined, baseDir);
  const logs: string[] = [];
  const logger: Logger = opts.captureLogs
    ? createLogger({ level: 'debug', write: (l) => logs.push(l) })
    : silentLogger;
  const metrics = new Metrics();
  const state = await buildApp(config, logger, metrics);
  const server = new TokenHttpServer(state, logger, metrics);
  const u = await server.listen('127.0.0.1:0');
  return { url: u.origin, server, state, config, metrics, logs, close: () => server.close() };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
