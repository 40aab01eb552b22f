// A configured registry's credentials: the cached token, else a new one from its source.
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';
import { audiencesOf, decodeJwtPayload, nowSeconds } from '../jwt.js';
import { resolveSource } from '../sources/auto.js';
import { runCommand } from '../sources/command.js';
import { fetchGithubIdToken } from '../sources/github.js';
import { readGitlabToken } from '../sources/gitlab.js';
import { readTokenFile } from '../sources/kubernetes.js';
import { NAME } from '../version.js';
import { cacheKey, readCache, writeCache } from './cache.js';
import type { HelperConfig, RegistryEntry } from './config.js';

export interface Credentials {
  username: string;
  secret: string;
}

/** The credentials for a configured registry: from the cache, else from its source. */
export async function credentialsFor(
  entry: RegistryEntry,
  cfg: HelperConfig,
  env: Env,
  warn: (message: string) => void = (m) => process.stderr.write(`${NAME}: warning: ${m}\n`),
): Promise<Credentials> {
  const source = resolveSource(entry.source, env);
  const username = entry.provider ?? source.type;
  const key = cacheKey(entry, source, env);
  if (key !== undefined) {
    const cached = readCache(cfg.cacheDir, key, cfg.refreshBefore);
    if (cached !== undefined) return { username, secret: cached };
  }
  let token: string;
  switch (source.type) {
    case 'github':
      token = await fetchGithubIdToken(env, entry.audience);
      break;
    case 'gitlab':
      token = readGitlabToken(env, source.variable);
      break;
    case 'kubernetes':
      token = readTokenFile(source.path);
      break;
    case 'command':
      token = await runCommand(source.command, {
        ...env,
        PURSER_REGISTRY: entry.registry,
        PURSER_AUDIENCE: entry.audience,
      });
      break;
  }
  const payload = decodeJwtPayload(token);
  if (payload === undefined)
    throw new HelperError('TOKEN_INVALID', `the ${source.type} token source did not give a JWT`);
  const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
  if (exp !== undefined && exp <= nowSeconds()) {
    throw new HelperError(
      'TOKEN_INVALID',
      `the ${source.type} token expired at ${new Date(exp * 1000).toISOString()}${source.type === 'gitlab' ? ' (the job outlived its id_tokens token)' : ''}`,
    );
  }
  if (source.type !== 'github') {
    const auds = audiencesOf(token);
    if (auds.length > 0 && !auds.includes(entry.audience)) {
      // Not fatal: Purser may accept several audiences. But usually it is the reason for a 401.
      warn(
        `the ${source.type} token's aud ${JSON.stringify(auds)} does not include ${JSON.stringify(entry.audience)} (the configured audience for ${entry.registry})`,
      );
    }
  }
  if (key !== undefined) writeCache(cfg.cacheDir, key, token);
  return { username, secret: token };
}
