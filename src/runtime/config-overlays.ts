import { dirname, resolve } from 'node:path';
import { compileConfig } from '../compile/compile-config.js';
import { buildConfig, type Config, parseConfigYaml, readConfigDocument } from '../config/load.js';
import { mergeConfigs } from '../config/merge.js';
import { ConfigError, PurserError } from '../core/errors.js';

/** A Secret's `config` beyond this is refused: a config that size is a mistake, not a config. */
export const MAX_OVERLAY_BYTES = 256 * 1024;
/** More matching Secrets than this are refused (each reload parses and may compile them all). */
export const MAX_OVERLAYS = 64;

/** Configuration YAML merged over the file: one Kubernetes Secret's `config` key. */
export interface ConfigOverlay {
  /** What it is, for logs and metrics: `secret`. */
  readonly kind: 'secret';
  /** Its name in logs and errors: `NAMESPACE/NAME`. */
  readonly name: string;
  /** The YAML text; undefined when the Secret has no `config` key. */
  readonly yaml: string | undefined;
}

/**
 * Where overlays come from (the Kubernetes Secret watcher of @purser/kube). `start` resolves
 * with the first complete list (sorted by name) or rejects when none can be had; afterwards
 * `onChange` gets the whole list again after every add, update or delete.
 */
export interface ConfigOverlaySource {
  start(onChange: (overlays: readonly ConfigOverlay[]) => void): Promise<readonly ConfigOverlay[]>;
  close(): Promise<void>;
}

/** How an overlay is named as a ConfigError's file: `secret NAMESPACE/NAME`. */
export function overlaySource(o: ConfigOverlay): string {
  return `${o.kind} ${o.name}`;
}

/** The overlay a ConfigError names as its source, if it names one of these. */
export function overlayAtFault(e: unknown, overlays: readonly ConfigOverlay[]): ConfigOverlay | undefined {
  if (!(e instanceof ConfigError)) return undefined;
  return overlays.find((o) => overlaySource(o) === e.file);
}

function parseOverlay(o: ConfigOverlay): Record<string, unknown> {
  const source = overlaySource(o);
  if (o.yaml === undefined) throw new ConfigError(source, 'data.config', 'the Secret has no `config` key');
  if (Buffer.byteLength(o.yaml) > MAX_OVERLAY_BYTES)
    throw new ConfigError(source, 'data.config', `larger than ${MAX_OVERLAY_BYTES} bytes`);
  const data = parseConfigYaml(o.yaml, source);
  // Where the overlays come from is the file's to say; a Secret cannot redirect it.
  if (Object.hasOwn(data, 'kubernetes'))
    throw new ConfigError(source, 'kubernetes', 'set in the configuration file only, not in a Secret');
  return data;
}

/**
 * The file's configuration with `overlays` merged over it (config/merge.ts), validated.
 * Relative paths in an overlay resolve against the file's directory. An overlay that is not
 * YAML, or sets `kubernetes`, is refused naming it; for other refusals see blameOverlay.
 * `base`: the file's document, when the caller has just read it.
 */
export function loadLayeredConfig(
  file: string,
  overlays: readonly ConfigOverlay[],
  base: Record<string, unknown> = readConfigDocument(resolve(file)),
): Readonly<Config> {
  const path = resolve(file);
  if (overlays.length > MAX_OVERLAYS)
    throw new ConfigError(
      path,
      'kubernetes.configSecrets',
      `${overlays.length} Secrets match the selector; at most ${MAX_OVERLAYS} are read`,
    );
  return buildConfig(mergeConfigs(base, overlays.map(parseOverlay)), path, dirname(path));
}

/**
 * A refusal of the merged configuration (by buildConfig, or by compileConfig inside
 * buildApp) restated as the overlay's that causes it: the one overlay without which the
 * merge validates and compiles. Leaving one out rather than adding them one by one, because
 * the file alone may be incomplete (its signing key in a Secret). `e` itself when an overlay
 * is already named, or when no single overlay is to blame (the file, or several at once).
 */
export async function blameOverlay(
  e: unknown,
  file: string,
  overlays: readonly ConfigOverlay[],
): Promise<unknown> {
  if (!(e instanceof ConfigError || (e instanceof PurserError && e.code === 'INVALID_KEY'))) return e;
  if (overlays.length === 0 || overlays.length > MAX_OVERLAYS || overlayAtFault(e, overlays)) return e;
  const path = resolve(file);
  let base: Record<string, unknown>;
  let parsed: Record<string, unknown>[];
  try {
    base = readConfigDocument(path);
    parsed = overlays.map(parseOverlay);
  } catch {
    return e;
  }
  for (let i = 0; i < parsed.length; i++) {
    const without = parsed.filter((_, j) => j !== i);
    try {
      await compileConfig(buildConfig(mergeConfigs(base, without), path, dirname(path)));
    } catch {
      continue;
    }
    return restate(e, overlays[i]!);
  }
  return e;
}

function restate(err: unknown, o: ConfigOverlay): unknown {
  if (err instanceof ConfigError) return new ConfigError(overlaySource(o), err.path, err.problem);
  if (err instanceof PurserError && err.code === 'INVALID_KEY')
    return new ConfigError(overlaySource(o), '', err.message);
  return err;
}

/** What @purser/kube's `configSecretsSource` is called with. */
export interface ConfigSecretsOptions {
  namespace: string;
  labelSelector: string;
  /** A watch or list failed and restarts after `retryInMs` (never with a Secret's data). */
  onWatchError?: (error: string, retryInMs: number) => void;
}

/** The module that watches Secrets; loaded only when the config asks for it. */
export const KUBE_MODULE = '@purser/kube/config-secrets';

/**
 * Loads the Secret watcher from @purser/kube, kept out of the token server's dependencies
 * (it brings @kubernetes/client-node): only a config with `kubernetes.configSecrets` needs it.
 */
export async function loadConfigSecretsSource(
  file: string,
  options: ConfigSecretsOptions,
  specifier: string = KUBE_MODULE,
): Promise<ConfigOverlaySource> {
  let mod: { configSecretsSource?: unknown };
  try {
    mod = (await import(specifier)) as { configSecretsSource?: unknown };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') &&
      (e as Error).message.includes(`'${specifier.split('/').slice(0, 2).join('/')}`);
    throw new ConfigError(
      resolve(file),
      'kubernetes.configSecrets',
      missing
        ? 'needs the @purser/kube package, which is not installed (npm install @purser/kube)'
        : `cannot load @purser/kube: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof mod.configSecretsSource !== 'function')
    throw new ConfigError(
      resolve(file),
      'kubernetes.configSecrets',
      `${specifier} has no configSecretsSource export (a @purser/kube of another version?)`,
    );
  return (mod.configSecretsSource as (o: ConfigSecretsOptions) => ConfigOverlaySource)(options);
}
