// Where a client tool gets its OIDC token: the kinds and their configuration.
import { isRecord } from '../env.js';
import { HelperError } from '../errors.js';

export const DEFAULT_GITLAB_VARIABLE = 'PURSER_ID_TOKEN';
export const DEFAULT_KUBERNETES_TOKEN = '/var/run/secrets/tokens/purser';

export type SourceType = 'github' | 'gitlab' | 'kubernetes' | 'command';

export type Source =
  | { type: 'github' }
  | { type: 'gitlab'; variable: string }
  | { type: 'kubernetes'; path: string }
  /** A string runs with /bin/sh -c; a list is argv. Its stdout (trimmed) is the JWT. */
  | { type: 'command'; command: string | string[] }
  /** Detects GitHub Actions, then GitLab CI (the variable), then Kubernetes (the file). */
  | { type: 'auto'; variable: string; path: string };

/** A source with `auto` resolved against the environment. */
export type ResolvedSource = Exclude<Source, { type: 'auto' }>;

const SOURCE_TYPES = ['github', 'gitlab', 'kubernetes', 'command', 'auto'] as const;

export function fail(where: string, msg: string): never {
  throw new HelperError('CONFIG_INVALID', `${where}: ${msg}`);
}

export function optString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') fail(`${where}.${key}`, 'must be a non-empty string');
  return v;
}

/** Parses a `source` value: a type name, or an object `{type, variable, path, command}`. */
export function parseSource(value: unknown, where: string): Source {
  const obj: Record<string, unknown> =
    value === undefined
      ? { type: 'auto' }
      : typeof value === 'string'
        ? { type: value }
        : isRecord(value)
          ? value
          : {};
  if (!isRecord(value) && value !== undefined && typeof value !== 'string') {
    fail(where, 'must be a source name (github, gitlab, kubernetes, command, auto) or an object with "type"');
  }
  const type = obj.type;
  if (typeof type !== 'string' || !(SOURCE_TYPES as readonly string[]).includes(type)) {
    fail(
      `${where}${isRecord(value) ? '.type' : ''}`,
      `unknown source ${JSON.stringify(type)}; use one of ${SOURCE_TYPES.join(', ')}`,
    );
  }
  const known: Record<string, string[]> = {
    github: ['type'],
    gitlab: ['type', 'variable'],
    kubernetes: ['type', 'path'],
    command: ['type', 'command'],
    auto: ['type', 'variable', 'path'],
  };
  for (const k of Object.keys(obj)) {
    if (!known[type]!.includes(k)) fail(`${where}.${k}`, `unknown key for source ${type}`);
  }
  const variable = optString(obj, 'variable', where) ?? DEFAULT_GITLAB_VARIABLE;
  const path = optString(obj, 'path', where) ?? DEFAULT_KUBERNETES_TOKEN;
  switch (type) {
    case 'github':
      return { type };
    case 'gitlab':
      return { type, variable };
    case 'kubernetes':
      return { type, path };
    case 'auto':
      return { type, variable, path };
    default: {
      const c = obj.command;
      const ok =
        (typeof c === 'string' && c.trim() !== '') ||
        (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string'));
      if (!ok)
        fail(`${where}.command`, 'required for source "command": a shell command string or an argv list');
      return { type: 'command', command: c as string | string[] };
    }
  }
}
