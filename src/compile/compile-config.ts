import { readHtpasswd } from '../authn/htpasswd.js';
import { localKeySet } from '../authn/oidc/key-set.js';
import type { StoredCredential } from '../authn/static-users.js';
import { type CompiledRule, type ConditionCompiler, compileRules } from '../authz/acl.js';
import type { Config, ProviderConfig } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import { CelCompileError, CelEvalError, type CelProgram, celClaims, compileCel } from '../expr/cel.js';
import { loadSigningKey, type SigningKey } from '../token/keys.js';
import { type Logger, silentLogger } from '../util/log.js';
import { pemValueLabel, readPemValue } from '../util/pem-value.js';

/**
 * A configuration checked whole, with what can be derived from it without the network:
 * the signing keys loaded, the users merged, the ACL compiled. Everything `serve` would
 * refuse is refused while building it, so `check`, `doctor`, the library and a reload
 * refuse exactly the same configurations.
 */
export interface CompiledConfig {
  readonly kind: 'compiled';
  readonly config: Readonly<Config>;
  /** From the key files, or the keys the library was given. The first signs. */
  readonly signingKeys: readonly SigningKey[];
  /** htpasswd entries, then `users:` (which may not repeat one). */
  readonly users: ReadonlyMap<string, StoredCredential>;
  /** Users whose password is in the configuration in clear (worth a warning). */
  readonly plaintextUsers: readonly string[];
  readonly rules: readonly CompiledRule[];
  /**
   * Per provider, what its key set depends on besides its configuration (the CA file's
   * content): a reload keeps a provider's fetched keys only when both are unchanged.
   */
  readonly providerFingerprints: readonly string[];
}

export interface CompileOptions {
  /** Keys held in memory (the library): used instead of `token.keys`' files. */
  signingKeys?: readonly SigningKey[];
  /** The library was given authenticators of its own: users and providers are optional. */
  customAuthenticators?: boolean;
  /** Where an ACL condition's evaluation error is reported, when requests run; never at compile. */
  logger?: Logger;
}

/** Checks a validated configuration whole and compiles it; throws a ConfigError (or INVALID_KEY) naming the key at fault. */
export async function compileConfig(
  config: Readonly<Config>,
  options: CompileOptions = {},
): Promise<CompiledConfig> {
  const file = config.file;
  const signingKeys = options.signingKeys ?? (await loadKeyFiles(config));
  if (config.token.keyId === 'x5c' && !signingKeys[0]?.x5c)
    throw new ConfigError(file, 'token.keyId', 'keyId x5c needs the certificate of the signing key');

  const users = new Map<string, StoredCredential>();
  if (config.htpasswd) {
    for (const [u, h] of readHtpasswd(config.htpasswd)) users.set(u, { hash: h });
  }
  const plaintextUsers: string[] = [];
  for (const [name, entry] of Object.entries(config.users)) {
    if (users.has(name)) throw new ConfigError(file, `users.${name}`, `also defined in ${config.htpasswd}`);
    users.set(name, entry);
    if ('password' in entry) plaintextUsers.push(name);
  }

  const providerFingerprints: string[] = [];
  for (const [i, p] of config.providers.entries()) {
    const where = `providers[${i}]`;
    if (users.has(p.name)) {
      throw new ConfigError(
        file,
        `${where}.name`,
        `${JSON.stringify(p.name)} is also a user in ${config.htpasswd}; a Basic username must select one or the other`,
      );
    }
    checkProviderExpressions(p, where, file);
    if (p.keys) {
      try {
        await localKeySet(p.keys);
      } catch (e) {
        throw new ConfigError(file, `${where}.keys`, (e as Error).message);
      }
    }
    providerFingerprints.push(JSON.stringify([p, p.ca ? readCa(p.ca, `${where}.ca`, file) : null]));
  }

  if (
    !options.customAuthenticators &&
    users.size === 0 &&
    config.providers.length === 0 &&
    !config.auth.anonymous
  ) {
    throw new ConfigError(
      file,
      'users',
      'no way to authenticate: add users, htpasswd or providers, or enable auth.anonymous',
    );
  }

  const rules = compileRules(config.acl, file, celConditions(file, options.logger ?? silentLogger));
  return { kind: 'compiled', config, signingKeys, users, plaintextUsers, rules, providerFingerprints };
}

async function loadKeyFiles(config: Readonly<Config>): Promise<SigningKey[]> {
  return Promise.all(config.token.keys.map((k) => loadSigningKey(k.key, k.certificate)));
}

function readCa(path: string, where: string, file: string | undefined): string {
  try {
    return readPemValue(path);
  } catch (e) {
    throw new ConfigError(
      file,
      where,
      `cannot read ${pemValueLabel(path)}: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
}

/** A provider's CEL (account, when, labels), compiled here so a mistake is a load-time refusal. */
function checkProviderExpressions(p: ProviderConfig, where: string, file: string | undefined): void {
  const check = (src: string, key: string, kind: 'bool' | 'string') => {
    try {
      compileCel(src, ['claims'], kind as 'bool');
    } catch (e) {
      if (e instanceof CelCompileError) throw new ConfigError(file, `${where}.${key}`, e.message);
      throw e;
    }
  };
  check(p.account, 'account', 'string');
  if (p.when) check(p.when, 'when', 'bool');
  for (const [k, v] of Object.entries(p.labels)) check(v, `labels.${k}`, 'string');
}

/** ACL `when:` conditions in CEL; a runtime error denies the rule and is logged. */
function celConditions(file: string | undefined, logger: Logger): ConditionCompiler {
  return (source, where) => {
    let program: CelProgram<boolean>;
    try {
      program = compileCel(source, ['identity', 'claims', 'request'], 'bool');
    } catch (e) {
      if (e instanceof CelCompileError) throw new ConfigError(file, where, e.message);
      throw e;
    }
    return {
      source,
      evaluate(input) {
        try {
          return program.run({
            identity: {
              account: input.identity.account,
              provider: input.identity.provider,
              labels: input.identity.labels,
            },
            claims: celClaims(input.identity.claims),
            request: input.request,
          });
        } catch (e) {
          if (!(e instanceof CelEvalError)) throw e;
          logger.warn('ACL condition failed to evaluate; the rule does not apply', {
            rule: where,
            reason: e.message,
          });
          return false;
        }
      },
    };
  };
}
