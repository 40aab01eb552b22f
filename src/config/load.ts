import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { RESERVED_PROVIDER_NAMES } from '../core/identity.js';
import { Secret } from '../core/secret.js';
import { isInlinePem } from '../util/pem-value.js';
import { looksLikeKeyMaterial, shown } from '../util/redact.js';
import { issuerUrlProblem } from '../util/url-policy.js';
import { PRESETS } from './presets.js';
import {
  type ConfigData,
  type ConfigInput,
  configSchema,
  type KubernetesData,
  kubernetesSchema,
  type LdapData,
  type ProviderData,
  type WebhooksData,
} from './schema.js';

/** A provider after presets are applied and paths resolved. */
export interface ProviderConfig extends Omit<ProviderData, 'issuer' | 'audience' | 'labels' | 'algorithms'> {
  algorithms: string[];
  issuer: string;
  audiences: string[];
  account: string;
  labels: Record<string, string>;
}

/** A validated configuration: defaults applied, paths absolute, secrets wrapped. Frozen. */
export interface ProxyConfig
  extends Omit<NonNullable<ConfigData['proxy']>, 'upstreamAuth' | 'externalUrl' | 'service'> {
  upstreamAuth: 'token' | 'none' | { kind: 'basic' | 'bearer'; username: string; password: Secret };
  externalUrl: string | undefined;
  service: string;
}

/** A webhook's settings with its secret wrapped and its CA path absolute. */
export type WebhookConfig<K extends keyof WebhooksData> = Omit<NonNullable<WebhooksData[K]>, 'secret'> & {
  secret: Secret;
};

export interface WebhooksConfig {
  authn: WebhookConfig<'authn'> | undefined;
  authz: WebhookConfig<'authz'> | undefined;
}

/** A static user: a credential, and the groups and labels policies see. */
export type UserConfig = ({ hash: string } | { password: Secret }) & {
  groups: string[];
  labels: Record<string, string>;
};

/** The `ldap:` block with its CA path resolved and the service password wrapped. */
export interface LdapConfig extends Omit<LdapData, 'bindPassword'> {
  bindPassword: Secret | undefined;
}

export interface Config
  extends Omit<ConfigData, 'users' | 'token' | 'providers' | 'proxy' | 'webhooks' | 'ldap'> {
  ldap: LdapConfig | undefined;
  providers: ProviderConfig[];
  webhooks: WebhooksConfig;
  proxy: ProxyConfig | undefined;
  /** The file it was read from, when it was read from one. */
  file: string | undefined;
  /** Files read through `${file:…}` (absolute): a change to one is a reload too. */
  fileRefs: readonly string[];
  baseDir: string;
  token: Omit<ConfigData['token'], 'key' | 'certificate' | 'keys' | 'service'> & {
    services: string[];
    keys: { key: string; certificate: string | undefined }[];
  };
  users: Record<string, UserConfig>;
}

const BCRYPT_HASH_RE = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

const REF_RE = /\$\{(env|file):([^}]*)\}/g;

/**
 * Replaces `${env:NAME}` and `${file:PATH}` in every string of the document, and notes in
 * `fromFile` the key paths whose value took in a file's content.
 */
function expandRefs(
  value: unknown,
  path: string,
  file: string | undefined,
  baseDir: string,
  fromFile: Set<string>,
  refs: Set<string>,
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(REF_RE, (_m, kind: string, arg: string) => {
      if (kind === 'env') {
        const v = process.env[arg];
        if (v === undefined) throw new ConfigError(file, path, `environment variable ${arg} is not set`);
        return v;
      }
      const p = isAbsolute(arg) ? arg : resolve(baseDir, arg);
      fromFile.add(path);
      refs.add(p);
      try {
        // One trailing newline is not part of a secret kept in a file.
        return readFileSync(p, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new ConfigError(
          file,
          path,
          `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        );
      }
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => expandRefs(v, `${path}[${i}]`, file, baseDir, fromFile, refs));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = expandRefs(v, path ? `${path}.${k}` : k, file, baseDir, fromFile, refs);
    return out;
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s ? `.${String(p)}` : String(p);
  }
  return s;
}

/** Picks the most specific problem of a zod issue (unions report every branch). */
export function describeIssue(
  issue: z.core.$ZodIssue,
  prefix: readonly PropertyKey[] = [],
): { path: string; message: string } {
  const full = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    return { path: formatPath(full), message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}` };
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Prefer the branch that got furthest (longest path): that is the one the user meant.
    let best: z.core.$ZodIssue | undefined;
    for (const branch of issue.errors) {
      for (const sub of branch) if (!best || sub.path.length > best.path.length) best = sub;
    }
    if (best && best.path.length > 0) return describeIssue(best, full);
  }
  return { path: formatPath(full), message: issue.message.replace(/^Invalid input: /, '') };
}

/**
 * Every key that names a file. Those that take a PEM file also take the PEM itself
 * (util/pem-value.ts), from the file, `${env:…}` or `${file:…}` alike. Anything else that is
 * key material where a path belongs (a bare base64 line, PEM in `htpasswd`, a `${file:…}`
 * that is not PEM) is refused here, without the value, before a "cannot read <value>"
 * could print it.
 */
function refuseKeyMaterialAsPaths(d: ConfigData, file: string | undefined, fromFile: Set<string>): void {
  const pems: [string, string | undefined][] = [
    ['token.key', d.token.key],
    ['token.certificate', d.token.certificate],
    ...(d.token.keys ?? []).flatMap((k, i): [string, string | undefined][] => [
      [`token.keys[${i}].key`, k.key],
      [`token.keys[${i}].certificate`, k.certificate],
    ]),
    ['tls.cert', d.tls?.cert],
    ['tls.key', d.tls?.key],
    ['ldap.ca', d.ldap?.ca],
    ['proxy.tls.cert', d.proxy?.tls?.cert],
    ['proxy.tls.key', d.proxy?.tls?.key],
    ['proxy.upstreamCa', d.proxy?.upstreamCa],
    ...d.providers.flatMap((p, i): [string, string | undefined][] => [
      [`providers[${i}].keys`, p.keys],
      [`providers[${i}].ca`, p.ca],
    ]),
    ['webhooks.authn.ca', d.webhooks?.authn?.ca],
    ['webhooks.authz.ca', d.webhooks?.authz?.ca],
    ['redis.tls.ca', d.redis?.tls?.ca],
    ['redis.tls.cert', d.redis?.tls?.cert],
    ['redis.tls.key', d.redis?.tls?.key],
  ];
  const paths: [string, string | undefined][] = [
    ...pems.filter(([, v]) => v === undefined || !isInlinePem(v)),
    ['htpasswd', d.htpasswd],
    ['groupsFile', d.groupsFile],
  ];
  for (const [path, v] of paths) {
    if (v === undefined) continue;
    if (fromFile.has(path))
      throw new ConfigError(
        file,
        path,
        'expected a file path, but ${file:…} puts the content of a file here (give the path itself); the value is not shown',
      );
    if (looksLikeKeyMaterial(v))
      throw new ConfigError(
        file,
        path,
        'expected a file path, but the value looks like PEM or key material; the value is not shown',
      );
  }
}

/** A path resolved against the config's directory; inline PEM stays as it is. */
function abs(baseDir: string, p: string): string {
  return isAbsolute(p) || isInlinePem(p) ? p : resolve(baseDir, p);
}

/**
 * Validates a configuration object (already parsed from YAML or built in code). With
 * `keysGiven` (the library, called with signing keys in memory) the config names no key
 * file: `token.keys` is then empty and the caller supplies the keys.
 */
export function buildConfig(
  input: unknown,
  file: string | undefined,
  baseDir: string,
  options: { keysGiven?: boolean } = {},
): Readonly<Config> {
  const fromFile = new Set<string>();
  const refs = new Set<string>();
  const expanded = expandRefs(input, '', file, baseDir, fromFile, refs);
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const { path, message } = describeIssue(first);
    throw new ConfigError(file, path, message);
  }
  const d = parsed.data;
  refuseKeyMaterialAsPaths(d, file, fromFile);
  const t = d.token;
  if (t.key !== undefined && t.keys !== undefined)
    throw new ConfigError(file, 'token', 'give either key or keys, not both');
  const inConfig = t.key !== undefined || t.keys !== undefined;
  if (options.keysGiven && inConfig)
    throw new ConfigError(
      file,
      'token.key',
      'signing keys are given in code: leave token.key and token.keys out',
    );
  if (!options.keysGiven && !inConfig) throw new ConfigError(file, 'token.key', 'a signing key is required');
  if (t.certificate !== undefined && t.key === undefined) {
    throw new ConfigError(file, 'token.certificate', 'certificate goes with key (or inside keys[])');
  }
  const keys = (options.keysGiven ? [] : (t.keys ?? [{ key: t.key!, certificate: t.certificate }])).map(
    (k) => ({
      key: abs(baseDir, k.key),
      certificate: k.certificate === undefined ? undefined : abs(baseDir, k.certificate),
    }),
  );
  if (t.keyId === 'x5c' && keys[0] && keys[0].certificate === undefined) {
    throw new ConfigError(
      file,
      t.keys ? 'token.keys[0].certificate' : 'token.certificate',
      'keyId x5c needs the certificate of the signing key',
    );
  }
  const users: Config['users'] = {};
  for (const [name, entry] of Object.entries(d.users)) {
    const where = typeof entry === 'string' ? `users.${name}` : `users.${name}.hash`;
    const hash = typeof entry === 'string' ? entry : entry.hash;
    if (typeof entry === 'object' && (hash === undefined) === (entry.password === undefined))
      throw new ConfigError(file, `users.${name}`, 'give hash or password (one of them)');
    if (hash !== undefined && !BCRYPT_HASH_RE.test(hash)) {
      throw new ConfigError(
        file,
        where,
        'not a bcrypt hash ($2a$, $2b$ or $2y$); use { password: … } for a plaintext password or `purser hash` to make one',
      );
    }
    const profile =
      typeof entry === 'string'
        ? { groups: [], labels: {} }
        : { groups: [...new Set(entry.groups)], labels: { ...entry.labels } };
    users[name] =
      hash !== undefined
        ? { hash, ...profile }
        : { password: new Secret((entry as { password: string }).password), ...profile };
  }
  const providers = d.providers.map((p, i) => resolveProvider(p, `providers[${i}]`, file, baseDir));
  const names = new Set<string>();
  providers.forEach((p, i) => {
    if (RESERVED_PROVIDER_NAMES.has(p.name))
      throw new ConfigError(
        file,
        `providers[${i}].name`,
        `${JSON.stringify(p.name)} is reserved (the provider of Purser's own ${p.name} identities); choose another name`,
      );
    if (names.has(p.name))
      throw new ConfigError(
        file,
        `providers[${i}].name`,
        `duplicate provider name ${JSON.stringify(p.name)}`,
      );
    if (Object.hasOwn(d.users, p.name)) {
      throw new ConfigError(
        file,
        `providers[${i}].name`,
        `${JSON.stringify(p.name)} is also a static user; a Basic username must select one or the other`,
      );
    }
    names.add(p.name);
  });
  const { key: _k, certificate: _c, keys: _ks, service, ...tokenRest } = t;
  const config: Config = {
    ...d,
    file,
    fileRefs: [...refs],
    baseDir,
    tls: d.tls ? { ...d.tls, cert: abs(baseDir, d.tls.cert), key: abs(baseDir, d.tls.key) } : undefined,
    htpasswd: d.htpasswd === undefined ? undefined : abs(baseDir, d.htpasswd),
    groupsFile: d.groupsFile === undefined ? undefined : abs(baseDir, d.groupsFile),
    ldap: d.ldap
      ? {
          ...d.ldap,
          ca: d.ldap.ca === undefined ? undefined : abs(baseDir, d.ldap.ca),
          bindPassword: d.ldap.bindPassword === undefined ? undefined : new Secret(d.ldap.bindPassword),
        }
      : undefined,
    audit: d.audit && 'file' in d.audit ? { file: abs(baseDir, d.audit.file) } : d.audit,
    token: { ...tokenRest, services: Array.isArray(service) ? service : [service], keys },
    users,
    providers,
    webhooks: {
      authn: resolveWebhook(d.webhooks?.authn, baseDir),
      authz: resolveWebhook(d.webhooks?.authz, baseDir),
    },
    proxy: resolveProxy(d, file, baseDir),
  };
  return deepFreeze(config);
}

function resolveProxy(d: ConfigData, file: string | undefined, baseDir: string): ProxyConfig | undefined {
  const p = d.proxy;
  if (!p) return undefined;
  const services = Array.isArray(d.token.service) ? d.token.service : [d.token.service];
  const service = p.service ?? services[0]!;
  if (!services.includes(service))
    throw new ConfigError(
      file,
      'proxy.service',
      `${JSON.stringify(shown(service))} is not one of token.service`,
    );
  if (p.listen === d.listen && !p.listen.endsWith(':0'))
    throw new ConfigError(file, 'proxy.listen', 'must differ from listen (the token server)');
  const u = new URL(p.upstream);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(file, 'proxy.upstream', 'must be http:// or https://');
  if (u.pathname !== '/' && u.pathname !== '')
    throw new ConfigError(file, 'proxy.upstream', 'give the registry origin only (no path)');
  const a = p.upstreamAuth;
  const upstreamAuth: ProxyConfig['upstreamAuth'] =
    typeof a === 'string'
      ? a
      : 'basic' in a
        ? { kind: 'basic', username: a.basic.username, password: new Secret(a.basic.password) }
        : { kind: 'bearer', username: a.bearer.username, password: new Secret(a.bearer.password) };
  return {
    ...p,
    upstream: u.origin,
    upstreamAuth,
    externalUrl: p.externalUrl?.replace(/\/$/, ''),
    service,
    upstreamCa: p.upstreamCa === undefined ? undefined : abs(baseDir, p.upstreamCa),
    tls: p.tls ? { ...p.tls, cert: abs(baseDir, p.tls.cert), key: abs(baseDir, p.tls.key) } : undefined,
  };
}

function resolveWebhook<W extends { secret: string; ca?: string | undefined }>(
  w: W | undefined,
  baseDir: string,
): (Omit<W, 'secret'> & { secret: Secret }) | undefined {
  if (!w) return undefined;
  return { ...w, secret: new Secret(w.secret), ca: w.ca === undefined ? undefined : abs(baseDir, w.ca) };
}

function checkUrl(u: string, file: string | undefined, path: string): void {
  const problem = issuerUrlProblem(u);
  if (problem) throw new ConfigError(file, path, problem);
}

function resolveProvider(
  p: ProviderData,
  where: string,
  file: string | undefined,
  baseDir: string,
): ProviderConfig {
  const preset = p.preset ? PRESETS[p.preset] : undefined;
  const issuer = p.issuer ?? preset?.issuer;
  if (!issuer)
    throw new ConfigError(
      file,
      `${where}.issuer`,
      p.preset ? `preset ${p.preset} needs the cluster's issuer URL` : 'required',
    );
  checkUrl(issuer, file, `${where}.issuer`);
  if (p.jwksUri) checkUrl(p.jwksUri, file, `${where}.jwksUri`);
  if (p.jwksUri && p.keys) throw new ConfigError(file, `${where}.keys`, 'give jwksUri or keys, not both');
  let labels: Record<string, string> = { ...(preset?.labels ?? {}) };
  if (Array.isArray(p.labels)) {
    labels = {};
    for (const c of p.labels) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c))
        throw new ConfigError(
          file,
          `${where}.labels`,
          `claim name ${JSON.stringify(c)} is not a plain identifier; use the map form`,
        );
      labels[c] = `claims.${c}`;
    }
  } else if (p.labels) labels = p.labels;
  const { issuer: _i, audience, labels: _l, ...rest } = p;
  return {
    ...rest,
    algorithms: p.algorithms ?? preset?.algorithms ?? ['RS256', 'ES256'],
    issuer,
    audiences: Array.isArray(audience) ? audience : [audience],
    account: p.account ?? preset?.account ?? 'claims.sub',
    labels,
    keys: p.keys === undefined ? undefined : abs(baseDir, p.keys),
    ca: p.ca === undefined ? undefined : abs(baseDir, p.ca),
  };
}

/** Reads, parses and validates a YAML configuration file. */
export function loadConfigFile(file: string): Readonly<Config> {
  const path = resolve(file);
  return buildConfig(readConfigDocument(path), path, dirname(path));
}

/**
 * The file's `kubernetes:` section alone, validated: it says where the rest of the
 * configuration comes from, so it is read before the rest (which may be incomplete without
 * the Secrets) is validated. `doc`: the file's document when the caller has read it already
 * (a large file takes a while to parse, and leaves its garbage).
 */
export function readKubernetesSection(
  file: string,
  doc: Record<string, unknown> = readConfigDocument(resolve(file)),
): KubernetesData | undefined {
  const path = resolve(file);
  if (doc.kubernetes === undefined) return undefined;
  const expanded = expandRefs(doc.kubernetes, 'kubernetes', path, dirname(path), new Set(), new Set());
  const parsed = kubernetesSchema.safeParse(expanded);
  if (!parsed.success) {
    const { path: key, message } = describeIssue(parsed.error.issues[0]!, ['kubernetes']);
    throw new ConfigError(path, key, message);
  }
  return parsed.data;
}

/** Reads a YAML configuration file into its document (a mapping), not yet validated. */
export function readConfigDocument(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, '', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseConfigYaml(text, path);
}

/**
 * Parses configuration YAML (a file's, or a Secret's `config` key) into a mapping; `source`
 * names it in errors. Duplicate keys and `<<` merges are refused, aliases bounded.
 */
export function parseConfigYaml(text: string, source: string): Record<string, unknown> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, merge: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const pos = err.linePos?.[0];
    throw new ConfigError(
      source,
      pos ? `line ${pos.line}, column ${pos.col}` : '',
      `YAML: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(source, '', `YAML: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(source, '', 'expected a YAML mapping at the top level');
  }
  return data as Record<string, unknown>;
}

export type { ConfigInput };

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
