import { loadConfigFile } from '../config/load.js';
import { PurserError } from '../core/errors.js';
import { RedisRevocationStore } from '../state/redis-revocation.js';
import type { Revocation } from '../state/revocation.js';
import { type CommandIo, flag, parse, str, UsageError } from './usage.js';

export const REVOKE_HELP = `Usage: purser revoke --config FILE --jti J
       purser revoke --config FILE --account A [--provider P] [--before TIME]
       purser revoke --config FILE --provider P [--before TIME]

Revokes refresh tokens in the Redis store of the configuration (redis:), so every replica
sharing it refuses them at their next refresh: one token (its jti), an account's, or all of
a provider's issued at or before TIME (RFC 3339, default now). Access tokens already issued
stay valid until they expire (token.lifetime). Without redis: revocations are per process
and this command cannot reach them.

Options:
  --config FILE    the YAML configuration file of the servers
  --jti J          the refresh token's jti
  --account A      the account (sub) whose refresh tokens to revoke
  --provider P     the provider (static users: static); with --account, only that account's
  --before TIME    RFC 3339 time; tokens issued after it stay valid (default now)
`;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export async function revokeCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string', short: 'c' },
    jti: { type: 'string' },
    account: { type: 'string' },
    provider: { type: 'string' },
    before: { type: 'string' },
  });
  if (flag(values, 'help')) {
    io.stdout(REVOKE_HELP);
    return 0;
  }
  const file = str(values, 'config');
  if (!file) throw new UsageError('--config FILE is required');
  const jti = str(values, 'jti');
  const account = str(values, 'account');
  const provider = str(values, 'provider');
  const beforeArg = str(values, 'before');
  for (const [n, v] of [
    ['jti', jti],
    ['account', account],
    ['provider', provider],
  ] as const)
    if (v === '' || (v !== undefined && v.length > 1024))
      throw new UsageError(`--${n} must be 1 to 1024 characters`);
  if (jti !== undefined && (account !== undefined || provider !== undefined || beforeArg !== undefined))
    throw new UsageError('--jti revokes one token: it takes no --account, --provider or --before');
  if (jti === undefined && account === undefined && provider === undefined)
    throw new UsageError('give --jti, --account or --provider');
  let before = Math.floor(Date.now() / 1000);
  if (beforeArg !== undefined) {
    const t = parseRfc3339(beforeArg);
    if (t === undefined)
      throw new UsageError(
        `--before must be an RFC 3339 time (2030-01-02T15:04:05Z), not ${JSON.stringify(beforeArg.slice(0, 64))}`,
      );
    before = Math.floor(t / 1000);
  }

  const config = loadConfigFile(file);
  if (!config.redis)
    throw new UsageError(
      `${file} has no redis: section; without one revocations are per process and the servers cannot be reached from here (configure redis: to share them)`,
    );
  // No refresh token outlives its longest lifetime: the entry may be forgotten after it.
  const longest = Math.max(
    config.token.refreshTokenLifetime,
    ...config.providers.map((p) => p.refreshTokenLifetime ?? 0),
  );
  const now = Math.floor(Date.now() / 1000);
  const r: Revocation =
    jti !== undefined
      ? { jti, expiresAt: now + longest }
      : account !== undefined
        ? { account, ...(provider !== undefined ? { provider } : {}), before, expiresAt: before + longest }
        : { provider: provider!, before, expiresAt: before + longest };
  if (r.expiresAt <= now) {
    io.stdout('nothing to revoke: every refresh token it could cover has expired already\n');
    return 0;
  }
  // Loaded here, not with the CLI: every other command (serve too) runs without ioredis.
  const { createRedisClient, redisCall, redisReady } = await import('../state/redis-client.js');
  const client = createRedisClient(config.redis, config.baseDir);
  try {
    if (!(await redisReady(client, 5_000)))
      throw new PurserError('UNAVAILABLE', `redis at ${redactUrl(config.redis.url)} is not reachable`);
    await redisCall('revoke', () =>
      new RedisRevocationStore(client, { keyPrefix: config.redis!.keyPrefix }).revoke(r),
    );
  } finally {
    client.disconnect();
  }
  const what =
    jti !== undefined
      ? 'the refresh token with that jti'
      : account !== undefined
        ? `the refresh tokens of account ${JSON.stringify(account)}${provider !== undefined ? ` (provider ${JSON.stringify(provider)})` : ''}`
        : `the refresh tokens of provider ${JSON.stringify(provider)}`;
  const scope = jti === undefined ? ` issued at or before ${new Date(before * 1000).toISOString()}` : '';
  io.stdout(`revoked ${what}${scope}\n`);
  return 0;
}

/** Epoch ms of an RFC 3339 time, or undefined (Date.parse alone takes Feb 31 for Mar 3). */
function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  if (day.getUTCMonth() !== mo! - 1 || day.getUTCDate() !== d || h! > 23 || mi! > 59 || se! > 60)
    return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}
