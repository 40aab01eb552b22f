// Purser's authenticating proxy in front of a real registry (distribution 2.8), for each
// upstreamAuth mode: the registry starts first (the proxy needs its address), then Purser.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LogSource } from './logs.js';
import { generateKeys, type KeyPair, type Purser, startPurser } from './purser.js';
import { type Registry, startRegistry } from './registry.js';
import { ALICE, BOB, ISSUER, SERVICE, standardUsers } from './stack.js';
import { makeTempDir, removeDir } from './tmp.js';

export { ALICE, BOB, ISSUER, SERVICE };

/** A user with pull/push/delete on carol/* only (nothing on team/*). */
export const CAROL = { username: 'carol', password: 'carol-pw' } as const;

/** The upstream registry's own credentials (htpasswd, or the second Purser's user). */
export const UPSTREAM_USER = { username: 'proxy-robot', password: 'proxy-robot-pw' } as const;
export const UPSTREAM_ISSUER = 'upstream-purser';
export const UPSTREAM_SERVICE = 'upstream.test';

/**
 * alice may do everything (catalog included), bob may pull team/*, carol may do anything in
 * carol/*, anonymous may pull public/*.
 */
export const PROXY_ACL: unknown[] = [
  { match: { account: 'alice' }, actions: ['*'] },
  { match: { account: 'bob', type: 'repository', name: 'team/*' }, actions: ['pull'] },
  { match: { account: 'carol', type: 'repository', name: 'carol/*' }, actions: ['*'] },
  { match: { account: '', type: 'repository', name: 'public/*' }, actions: ['pull'] },
];

export type UpstreamMode = 'token' | 'basic' | 'none' | 'bearer';

export interface ProxyStackOptions {
  upstream: UpstreamMode;
  users?: Record<string, unknown>;
  acl?: unknown[];
  /** Extra top-level config for the front Purser. */
  extra?: Record<string, unknown>;
  /** Extra fields for its proxy section. */
  proxy?: Record<string, unknown>;
}

export interface ProxyStack {
  /** The front Purser (token server + proxy). */
  purser: Purser;
  registry: Registry;
  /** bearer mode: the upstream registry's own token server. */
  upstreamPurser?: Purser;
  keys: KeyPair;
  /** http://127.0.0.1:PORT of the proxy. */
  proxyUrl: string;
  /** 127.0.0.1:PORT of the proxy, as image references want it. */
  host: string;
  logSources(): LogSource[];
  stop(): Promise<void>;
}

export async function startProxyStack(opts: ProxyStackOptions): Promise<ProxyStack> {
  const dir = makeTempDir('purser-proxy-stack-');
  let purser: Purser | undefined;
  let upstreamPurser: Purser | undefined;
  let registry: Registry | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([registry?.stop(), purser?.stop(), upstreamPurser?.stop()]);
    removeDir(dir);
  };
  try {
    const keyDir = join(dir, 'keys');
    mkdirSync(keyDir);
    const keys = await generateKeys(keyDir, 'ES256');
    let upstreamAuth: unknown;
    switch (opts.upstream) {
      case 'token':
        // The realm is never used: clients talk to the proxy, which mints the upstream's tokens.
        registry = await startRegistry({
          auth: {
            mode: 'token',
            realm: 'http://127.0.0.1:9/unused',
            service: SERVICE,
            issuer: ISSUER,
            rootcertbundle: keys.crt,
          },
        });
        upstreamAuth = 'token';
        break;
      case 'basic':
        registry = await startRegistry({
          auth: { mode: 'htpasswd', users: { [UPSTREAM_USER.username]: UPSTREAM_USER.password } },
        });
        upstreamAuth = { basic: { ...UPSTREAM_USER } };
        break;
      case 'none':
        registry = await startRegistry({ auth: { mode: 'none' } });
        upstreamAuth = 'none';
        break;
      case 'bearer': {
        const upDir = join(dir, 'upstream');
        mkdirSync(upDir);
        const upKeys = await generateKeys(upDir, 'ES256');
        upstreamPurser = await startPurser(
          {
            token: {
              issuer: UPSTREAM_ISSUER,
              service: UPSTREAM_SERVICE,
              key: upKeys.key,
              certificate: upKeys.crt,
            },
            users: { [UPSTREAM_USER.username]: { password: UPSTREAM_USER.password } },
            acl: [{ match: { account: UPSTREAM_USER.username }, actions: ['*'] }],
          },
          { dir: upDir },
        );
        registry = await startRegistry({
          auth: {
            mode: 'token',
            realm: upstreamPurser.realm,
            service: UPSTREAM_SERVICE,
            issuer: UPSTREAM_ISSUER,
            rootcertbundle: upKeys.crt,
          },
        });
        upstreamAuth = { bearer: { ...UPSTREAM_USER } };
        break;
      }
    }
    const purserDir = join(dir, 'purser');
    mkdirSync(purserDir);
    purser = await startPurser(
      {
        token: { issuer: ISSUER, service: SERVICE, key: keys.key, certificate: keys.crt, expiresIn: 300 },
        users: opts.users ?? { ...(await standardUsers()), [CAROL.username]: { password: CAROL.password } },
        acl: opts.acl ?? PROXY_ACL,
        proxy: { upstream: registry.url, upstreamAuth, ...(opts.proxy ?? {}) },
        ...(opts.extra ?? {}),
      },
      { dir: purserDir },
    );
    const p = purser;
    const r = registry;
    const up = upstreamPurser;
    const proxyUrl = p.proxyUrl;
    if (!proxyUrl) throw new Error(`purser printed no proxy listening line:\n${p.logs()}`);
    return {
      purser: p,
      registry: r,
      ...(up ? { upstreamPurser: up } : {}),
      keys,
      proxyUrl,
      host: new URL(proxyUrl).host,
      logSources: () => [
        { name: 'purser (proxy)', logs: p.logs },
        { name: 'registry', logs: r.logs },
        ...(up ? [{ name: 'upstream purser', logs: up.logs }] : []),
      ],
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface LogRecord {
  msg?: string;
  [k: string]: unknown;
}

/** Purser's JSON log records (lines that are not JSON are skipped). */
export function jsonLogs(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    const i = line.indexOf('{');
    if (i < 0) continue;
    try {
      const rec = JSON.parse(line.slice(i)) as unknown;
      if (rec && typeof rec === 'object') out.push(rec as LogRecord);
    } catch {
      // not JSON
    }
  }
  return out;
}

/** Purser's log records with this msg ("proxied", "proxy request refused", ...). */
export function logRecords(purser: Purser, msg: string): LogRecord[] {
  return jsonLogs(purser.logs()).filter((r) => r.msg === msg);
}

/**
 * logRecords once Purser's log has stopped growing for a moment (at most `maxMs`): a client
 * can finish before the line about its request has come through the pipe.
 */
export async function settledLogRecords(purser: Purser, msg: string, maxMs = 3_000): Promise<LogRecord[]> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  while (Date.now() < deadline) {
    const len = purser.logs().length;
    if (len === last) break;
    last = len;
    await new Promise((r) => setTimeout(r, 150));
  }
  return logRecords(purser, msg);
}

/** An Authorization header value for Basic credentials. */
export function basic(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The registry's access-log request lines ("METHOD URI") since `from` (a logs() length). */
export function registryRequests(registry: Registry, from = 0): string[] {
  const out: string[] = [];
  for (const m of registry
    .logs()
    .slice(from)
    .matchAll(/"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/[\d.]+"\s+(\d{3})/g))
    out.push(`${m[1]} ${m[2]} ${m[3]}`);
  return out;
}

/**
 * Waits until the registry's access log (from `from`) has a request line matching `pred`
 * (the line is written just after the response), then returns all request lines since `from`.
 */
export async function waitForRegistryRequest(
  registry: Registry,
  from: number,
  pred: (line: string) => boolean,
  timeoutMs = 3_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = registryRequests(registry, from);
    if (lines.some(pred) || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 25));
  }
}
