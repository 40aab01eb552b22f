import { X509Certificate } from 'node:crypto';
import { readGroupsFile } from '../authn/groups-file.js';
import { readHtpasswd } from '../authn/htpasswd.js';
import { fillFilter, parseLdapFilter, placeholders } from '../authn/ldap/template.js';
import { localKeySet } from '../authn/oidc/key-set.js';
import type { StoredCredential } from '../authn/static-users.js';
import { type CompiledRule, type ConditionCompiler, compileRules } from '../authz/acl.js';
import { compileTagRules, type TagRule } from '../authz/tag-policy.js';
import type { Config, LdapConfig, ProviderConfig } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import { CelCompileError, CelEvalError, type CelProgram, celClaims, compileCel } from '../expr/cel.js';
import { loadSigningKey, type SigningKey } from '../token/keys.js';
import { type Logger, silentLogger } from '../util/log.js';
import { pemValueLabel, readPemValue, splitPemCertificates } from '../util/pem-value.js';
import { shown } from '../util/redact.js';

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
  /** `proxy.tags`, compiled (empty without a proxy). */
  readonly tagRules: readonly TagRule[];
  /**
   * Per provider, what its key set depends on besides its configuration (the CA file's
   * content): a reload keeps a provider's fetched keys only when both are unchanged.
   */
  readonly providerFingerprints: readonly string[];
  /** Each configured webhook's CA bundle (PEM), read here so an unreadable one is a load-time refusal. */
  readonly webhookCas: Readonly<{ authn?: string; authz?: string }>;
  /** The content of `ldap.ca`, read once here. */
  readonly ldapCa: string | undefined;
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
  if (config.groupsFile) addGroupsFile(users, config.groupsFile);

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

  const webhookCas: { authn?: string; authz?: string } = {};
  for (const hook of ['authn', 'authz'] as const) {
    const w = config.webhooks[hook];
    if (!w) continue;
    checkWebhookUrl(w.url, `webhooks.${hook}.url`, file);
    if (w.ca) webhookCas[hook] = readCaBundle(w.ca, `webhooks.${hook}.ca`, file);
  }
  const ldapCa = config.ldap ? checkLdap(config.ldap, file) : undefined;

  if (
    !options.customAuthenticators &&
    users.size === 0 &&
    config.providers.length === 0 &&
    !config.webhooks.authn &&
    !config.ldap &&
    !config.auth.anonymous
  ) {
    throw new ConfigError(
      file,
      'users',
      'no way to authenticate: add users, htpasswd, ldap, providers or webhooks.authn, or enable auth.anonymous',
    );
  }

  const conditions = celConditions(file, options.logger ?? silentLogger);
  const rules = compileRules(config.acl, file, conditions);
  const tagRules = compileTagRules(config.proxy?.tags ?? [], file, conditions);
  return {
    kind: 'compiled',
    config,
    signingKeys,
    users,
    plaintextUsers,
    rules,
    tagRules,
    providerFingerprints,
    webhookCas,
    ldapCa,
  };
}

/** Adds the groups file's groups to the static users it names (each must exist). */
function addGroupsFile(users: Map<string, StoredCredential>, path: string): void {
  for (const [user, groups] of readGroupsFile(path)) {
    const entry = users.get(user);
    if (!entry)
      throw new ConfigError(
        path,
        '',
        `names ${JSON.stringify(user)}, who is not a static user (users, htpasswd)`,
      );
    users.set(user, { ...entry, groups: [...new Set([...(entry.groups ?? []), ...groups])] });
  }
}

/** Refuses an `ldap:` block that could not work or would be unsafe; returns the CA's content. */
function checkLdap(l: LdapConfig, file: string | undefined): string | undefined {
  const no = (key: string, message: string): never => {
    throw new ConfigError(file, `ldap.${key}`, message);
  };
  if (l.startTLS && l.url.startsWith('ldaps:'))
    no('startTLS', 'ldaps:// is TLS already; StartTLS goes with ldap://');
  if ((l.userDn === undefined) === (l.userSearch === undefined))
    no('userDn', 'give userDn (bind mode) or userSearch (search then bind), one of them');
  if (l.userDn !== undefined && !placeholders(l.userDn).has('username'))
    no('userDn', 'must contain {username}');
  if (l.userDn?.includes('{dn}')) no('userDn', '{dn} is not known before the bind; use {username}');
  if (l.bindDn !== undefined && l.bindPassword === undefined)
    no('bindPassword', 'bindDn needs bindPassword (an empty password would be an anonymous bind)');
  if (l.bindPassword !== undefined && l.bindDn === undefined) no('bindDn', 'bindPassword goes with bindDn');
  if (l.userSearch) {
    checkFilter(l.userSearch.filter, 'userSearch.filter', no);
    if (!placeholders(l.userSearch.filter).has('username'))
      no('userSearch.filter', 'must contain {username}');
    if (l.userSearch.filter.includes('{dn}')) no('userSearch.filter', '{dn} is not known before the search');
  }
  const g = l.groups;
  if (g && 'search' in g) {
    checkFilter(g.search.filter, 'groups.search.filter', no);
    if (placeholders(g.search.filter).size === 0)
      no('groups.search.filter', 'must contain {dn} or {username}');
  }
  return l.ca === undefined ? undefined : readCaBundle(l.ca, 'ldap.ca', file);
}

/** A filter must parse with its placeholders filled (a typo would fail every login). */
function checkFilter(filter: string, key: string, no: (key: string, message: string) => never): void {
  if (!filter.startsWith('(') || !filter.endsWith(')'))
    no(key, 'an LDAP filter is written in parentheses, e.g. (uid={username})');
  // ldapts' parser accepts a filter missing its last `)`: count them (in RFC 4515 a literal
  // parenthesis in a value is escaped, \28 / \29, so every one here is syntax).
  let depth = 0;
  for (const c of filter) {
    depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (depth < 0) break;
  }
  if (depth !== 0) no(key, 'not a valid LDAP filter (RFC 4515): unbalanced parentheses');
  try {
    parseLdapFilter(fillFilter(filter, { username: 'u', dn: 'cn=g' }));
  } catch (e) {
    no(key, `not a valid LDAP filter (RFC 4515): ${(e as Error).message}`);
  }
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

/**
 * A webhook receives passwords (authn) or identities (authz): https only, with no loopback
 * exception (tests run a real HTTPS server), and no credentials in the URL, which would end
 * up in log lines; the signature is what authenticates Purser to the webhook.
 */
function checkWebhookUrl(u: string, where: string, file: string | undefined): void {
  const url = new URL(u);
  if (url.protocol !== 'https:')
    throw new ConfigError(
      file,
      where,
      `${shown(u)}: only https:// is accepted (the request carries credentials)`,
    );
  if (url.username || url.password)
    throw new ConfigError(
      file,
      where,
      'no user or password in the URL: the request is authenticated by its signature (secret)',
    );
}

/** A CA bundle file that must hold at least one certificate Node can parse. */
function readCaBundle(path: string, where: string, file: string | undefined): string {
  const pem = readCa(path, where, file);
  const blocks = splitPemCertificates(pem);
  try {
    if (blocks.length === 0) throw new Error('no certificate');
    for (const b of blocks) new X509Certificate(b);
  } catch {
    throw new ConfigError(file, where, `${pemValueLabel(path)} holds no PEM certificate Node can read`);
  }
  return pem;
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
              groups: input.identity.groups ?? [],
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
