// docker-credential-purser's configuration: a JSON file (registries, cache dir, refresh margin)
// and registries from the environment (PURSER_REGISTRY and friends), which win.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { type Env, isRecord } from '../env.js';
import { HelperError } from '../errors.js';
import { normaliseRegistry, registryHost } from '../registry.js';
import { fail, optString, parseSource, type Source } from '../sources/source.js';

export const DEFAULT_REFRESH_BEFORE = 60;

export interface RegistryEntry {
  /** Normalised key: host[:port], lowercase. */
  registry: string;
  /** The Basic username: the Purser provider's name. Undefined: the source's type (github, gitlab, kubernetes). */
  provider: string | undefined;
  /** The `aud` to ask for (GitHub); for other sources only checked. Default: the registry host. */
  audience: string;
  source: Source;
}

export interface HelperConfig {
  /** The file read, or undefined when there was none. */
  file: string | undefined;
  registries: Map<string, RegistryEntry>;
  cacheDir: string;
  /** Fetch a new token this many seconds before `exp` (at most half the token's lifetime). */
  refreshBefore: number;
}

export function defaultConfigPath(env: Env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'purser', 'credhelper.json');
}

export function defaultCacheDir(env: Env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'purser', 'credhelper');
}

function parseEntry(key: string, value: unknown, where: string): RegistryEntry {
  if (!isRecord(value)) fail(where, 'must be an object {provider, audience, source}');
  for (const k of Object.keys(value)) {
    if (!['provider', 'audience', 'source'].includes(k))
      fail(`${where}.${k}`, 'unknown key (provider, audience, source)');
  }
  const registry = normaliseRegistry(key);
  if (registry === '') fail(where, 'empty registry name');
  const source = parseSource(value.source, `${where}.source`);
  const provider = optString(value, 'provider', where);
  if (provider === undefined && source.type === 'command')
    fail(`${where}.provider`, 'required with source "command"');
  return {
    registry,
    provider,
    audience: optString(value, 'audience', where) ?? registryHost(registry),
    source,
  };
}

/** Parses the JSON configuration document (already read). Relative paths resolve from `baseDir`. */
export function parseConfig(doc: unknown, file: string | undefined, env: Env): HelperConfig {
  const where = file ?? 'config';
  if (!isRecord(doc)) fail(where, 'must be a JSON object');
  for (const k of Object.keys(doc)) {
    if (!['registries', 'cacheDir', 'refreshBefore'].includes(k)) {
      fail(`${where}: ${k}`, 'unknown key (registries, cacheDir, refreshBefore)');
    }
  }
  const registries = new Map<string, RegistryEntry>();
  const regs = doc.registries ?? {};
  if (!isRecord(regs))
    fail(`${where}: registries`, 'must be an object mapping host[:port] to {provider, audience, source}');
  for (const [key, value] of Object.entries(regs)) {
    const e = parseEntry(key, value, `${where}: registries[${JSON.stringify(key)}]`);
    if (registries.has(e.registry))
      fail(`${where}: registries[${JSON.stringify(key)}]`, `${e.registry} is listed twice`);
    registries.set(e.registry, e);
  }
  const baseDir = file ? dirname(file) : process.cwd();
  const cacheDirRaw = optString(doc, 'cacheDir', `${where}: `);
  const cacheDir = cacheDirRaw ? resolve(baseDir, cacheDirRaw) : defaultCacheDir(env);
  const rb = doc.refreshBefore ?? DEFAULT_REFRESH_BEFORE;
  if (typeof rb !== 'number' || !Number.isInteger(rb) || rb < 0) {
    fail(`${where}: refreshBefore`, 'must be a whole number of seconds >= 0');
  }
  for (const e of registries.values()) {
    if (e.source.type === 'kubernetes' && !isAbsolute(e.source.path))
      e.source.path = resolve(baseDir, e.source.path);
  }
  return { file, registries, cacheDir, refreshBefore: rb };
}

/** The registry configured by environment variables (PURSER_REGISTRY and friends), if any. */
export function entriesFromEnv(env: Env): RegistryEntry[] {
  const list = (env.PURSER_REGISTRY ?? '').split(/[\s,]+/).filter((s) => s !== '');
  if (list.length === 0) return [];
  const where = 'environment';
  const src: Record<string, unknown> = { type: env.PURSER_TOKEN_SOURCE || 'auto' };
  if (env.PURSER_TOKEN_VARIABLE) src.variable = env.PURSER_TOKEN_VARIABLE;
  if (env.PURSER_TOKEN_FILE) src.path = env.PURSER_TOKEN_FILE;
  if (env.PURSER_TOKEN_COMMAND) src.command = env.PURSER_TOKEN_COMMAND;
  // Keys that do not belong to the chosen source are ignored rather than refused.
  const type = String(src.type);
  if (type !== 'gitlab' && type !== 'auto') delete src.variable;
  if (type !== 'kubernetes' && type !== 'auto') delete src.path;
  if (type !== 'command') delete src.command;
  let source: Source;
  try {
    source = parseSource(src, 'PURSER_TOKEN_SOURCE');
  } catch (e) {
    throw new HelperError('CONFIG_INVALID', `${where}: ${(e as Error).message}`);
  }
  return list.map((r) => {
    const registry = normaliseRegistry(r);
    const provider = env.PURSER_PROVIDER || undefined;
    if (provider === undefined && source.type === 'command') {
      throw new HelperError(
        'CONFIG_INVALID',
        `${where}: PURSER_PROVIDER is required with PURSER_TOKEN_SOURCE=command`,
      );
    }
    return { registry, provider, audience: env.PURSER_AUDIENCE || registryHost(registry), source };
  });
}

/**
 * Reads the configuration: the file named by PURSER_CREDHELPER_CONFIG (which must exist), else
 * the default file (if it exists), then registries from the environment, which win.
 */
export function loadConfig(env: Env): HelperConfig {
  const explicit = env.PURSER_CREDHELPER_CONFIG;
  const file = explicit ? resolve(explicit) : defaultConfigPath(env);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (explicit || code !== 'ENOENT') {
      throw new HelperError(
        'CONFIG_INVALID',
        `cannot read config ${file} (PURSER_CREDHELPER_CONFIG): ${(e as Error).message}`,
      );
    }
  }
  let cfg: HelperConfig;
  if (text === undefined) {
    cfg = {
      file: undefined,
      registries: new Map(),
      cacheDir: defaultCacheDir(env),
      refreshBefore: DEFAULT_REFRESH_BEFORE,
    };
  } else {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new HelperError('CONFIG_INVALID', `${file}: not valid JSON: ${(e as Error).message}`);
    }
    cfg = parseConfig(doc, file, env);
  }
  for (const e of entriesFromEnv(env)) cfg.registries.set(e.registry, e);
  if (env.PURSER_CREDHELPER_CACHE) cfg.cacheDir = resolve(env.PURSER_CREDHELPER_CACHE);
  return cfg;
}
