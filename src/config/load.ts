import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { RESERVED_PROVIDER_NAMES } from '../core/identity.js';
import { Secret } from '../core/secret.js';
import { looksLikeKeyMaterial, shown } from '../util/redact.js';
import { issuerUrlProblem } from '../util/url-policy.js';
import { PRESETS } from './presets.js';
import { type ConfigData, type ConfigInput, configSchema, type ProviderData } from './schema.js';

/** A provider after presets are applied and paths resolved. */
export interface ProviderConfig
  extends Omit<ProviderData, 'issuer' | 'audience' | 'labels' | 'preset' | 'algorithms'> {
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

export interface Config extends Omit<ConfigData, 'users' | 'token' | 'providers' | 'proxy'> {
  providers: ProviderConfig[];
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
  users: Record<string, { hash: string } | { password: Secret }>;
}

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
 * Every key that names a file. `key: ${file:token.key}` puts the private key itself where
 * its path belongs (PEM, or a bare base64 line): refused here, without the value, before a
 * "cannot read <value>" could print it. A path from `${env:…}` is fine unless it is PEM.
 */
function refuseKeyMaterialAsPaths(d: ConfigData, file: string | undefined, fromFile: Set<string>): void {
  const paths: [string, string | undefined][] = [
    ['token.key', d.token.key],
    ['token.certificate', d.token.certificate],
    ...(d.token.keys ?? []).flatMap((k, i): [string, string | undefined][] => [
      [`token.keys[${i}].key`, k.key],
      [`token.keys[${i}].certificate`, k.certificate],
    ]),
    ['tls.cert', d.tls?.cert],
    ['tls.key', d.tls?.key],
    ['htpasswd', d.htpasswd],
    ['proxy.tls.cert', d.proxy?.tls?.cert],
    ['proxy.tls.key', d.proxy?.tls?.key],
    ['proxy.upstreamCa', d.proxy?.upstreamCa],
    ...d.providers.flatMap((p, i): [string, string | undefined][] => [
      [`providers[${i}].keys`, p.keys],
      [`providers[${i}].ca`, p.ca],
    ]),
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

function abs(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
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
    if (typeof entry === 'string') {
      if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(entry)) {
        throw new ConfigError(
          file,
          `users.${name}`,
          'not a bcrypt hash ($2a$, $2b$ or $2y$); use { password: … } for a plaintext password or `purser hash` to make one',
        );
      }
      users[name] = { hash: entry };
    } else {
      users[name] = { password: new Secret(entry.password) };
    }
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
    audit: d.audit && 'file' in d.audit ? { file: abs(baseDir, d.audit.file) } : d.audit,
    token: { ...tokenRest, services: Array.isArray(service) ? service : [service], keys },
    users,
    providers,
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
  const { preset: _p, issuer: _i, audience, labels: _l, ...rest } = p;
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, '', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, merge: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const pos = err.linePos?.[0];
    throw new ConfigError(
      path,
      pos ? `line ${pos.line}, column ${pos.col}` : '',
      `YAML: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(path, '', `YAML: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(path, '', 'expected a YAML mapping at the top level');
  }
  return buildConfig(data, path, dirname(path));
}

export type { ConfigInput };

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
