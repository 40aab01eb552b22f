import type { Authenticator } from '../authn/authenticator.js';
import { readHtpasswd } from '../authn/htpasswd.js';
import { FailedLoginLimiter } from '../authn/rate-limit.js';
import { type StoredCredential, StaticUsers } from '../authn/static-users.js';
import { Acl, compileRules } from '../authz/acl.js';
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { KeyRing } from '../token/keyring.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from './metrics.js';
import { TokenService } from './token-service.js';

/** Everything a running server needs that is derived from one configuration. */
export interface AppState {
  config: Readonly<Config>;
  keyring: KeyRing;
  staticUsers: StaticUsers;
  acl: Acl;
  tokens: TokenService;
  realm: string;
}

/** Builds the state for a configuration; throws a ConfigError/PurserError naming what is wrong. */
export async function buildApp(config: Readonly<Config>, logger: Logger, metrics?: Metrics): Promise<AppState> {
  const keyring = await KeyRing.load(config.token.keys, {
    issuer: config.token.issuer,
    keyId: config.token.keyId,
    expiresIn: config.token.expiresIn,
  });

  const users = new Map<string, StoredCredential>();
  if (config.htpasswd) {
    for (const [u, h] of readHtpasswd(config.htpasswd)) users.set(u, { hash: h });
  }
  const plaintext: string[] = [];
  for (const [name, entry] of Object.entries(config.users)) {
    if (users.has(name)) throw new ConfigError(config.file, `users.${name}`, `also defined in ${config.htpasswd}`);
    users.set(name, entry);
    if ('password' in entry) plaintext.push(name);
  }
  if (plaintext.length > 0) {
    logger.warn('plaintext passwords in the configuration; store bcrypt hashes instead (purser hash)', { users: plaintext });
  }
  const staticUsers = new StaticUsers(users, config.auth.cacheSeconds);
  const authenticators: Authenticator[] = [staticUsers];

  if (users.size === 0 && !config.auth.anonymous) {
    throw new ConfigError(config.file, 'users', 'no way to authenticate: add users, htpasswd, or enable auth.anonymous');
  }

  const acl = new Acl(compileRules(config.acl, config.file));
  const limiter = new FailedLoginLimiter(config.auth.failedLogins.max, config.auth.failedLogins.windowSeconds);
  const tokens = new TokenService({
    issuer: config.token.issuer,
    services: config.token.services,
    keyring,
    authenticators,
    staticUsers,
    authorizer: acl,
    anonymous: config.auth.anonymous,
    limiter,
    refreshLifetime: config.token.refreshTokenLifetime,
    onFailedLogin: (kind) => metrics?.failedLogins.inc({ kind }),
  });
  return { config, keyring, staticUsers, acl, tokens, realm: 'purser' };
}
