import { PurserError } from '../core/errors.js';

/** One requested or granted access: `type(class):name:actions`. */
export interface Scope {
  type: string;
  /** Resource class as in `repository(plugin)`; undefined when absent. */
  class?: string;
  name: string;
  actions: string[];
}

/** Actions Purser understands. Anything else a client asks for is ignored, never granted. */
export const KNOWN_ACTIONS: ReadonlySet<string> = new Set(['pull', 'push', 'delete', '*']);

export const MAX_SCOPES = 64;
const MAX_SCOPE_LENGTH = 512;

const TYPE_RE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
// distribution's reference grammar: optional domain[:port]/ then lowercase path components.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const REPOSITORY_RE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const OTHER_NAME_RE = /^[A-Za-z0-9._\-/:]+$/;
const ACTION_RE = /^(?:\*|[a-z][a-z0-9_-]*)$/;

/** True when `name` is a valid repository name (distribution's reference grammar). */
export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && REPOSITORY_RE.test(name);
}

function invalid(scope: string, why: string): PurserError {
  const shown = scope.length > 80 ? `${scope.slice(0, 80)}…` : scope;
  return new PurserError('INVALID_SCOPE', `invalid scope ${JSON.stringify(shown)}: ${why}`);
}

/**
 * Parses one scope. The name may itself contain ':' (a `host:port/repo` reference), so the
 * type ends at the first ':' and the actions start after the last one.
 */
export function parseScope(raw: string): Scope {
  if (raw.length > MAX_SCOPE_LENGTH) throw invalid(raw, `longer than ${MAX_SCOPE_LENGTH} characters`);
  const first = raw.indexOf(':');
  const last = raw.lastIndexOf(':');
  if (first <= 0 || last === first) throw invalid(raw, 'expected type:name:actions');
  const typePart = raw.slice(0, first);
  const name = raw.slice(first + 1, last);
  const actionPart = raw.slice(last + 1);
  // The two types clients send, without a class, are what TYPE_RE would make of them.
  let type: string;
  let cls: string | undefined;
  if (typePart === 'repository' || typePart === 'registry') type = typePart;
  else {
    const t = TYPE_RE.exec(typePart);
    if (!t) throw invalid(raw, `bad resource type ${JSON.stringify(typePart)}`);
    type = t[1]!;
    cls = t[2];
  }
  if (name.length > 255) throw invalid(raw, 'resource name longer than 255 characters');
  if (name.length === 0) {
    // Zot's catalog challenge asks for `repository::pull`; whether that is accepted is the
    // token service's call (token.compat: zot), not the parser's.
    if (type !== 'repository' || cls !== undefined) throw invalid(raw, 'empty resource name');
  } else if (type === 'repository' ? !REPOSITORY_RE.test(name) : !OTHER_NAME_RE.test(name)) {
    throw invalid(raw, `bad ${type} name ${JSON.stringify(name)}`);
  }
  const actions: string[] = [];
  if (actionPart.length > 0) {
    for (const a of actionPart.split(',')) {
      // A known action is a valid one: the regex is for the rest.
      const known = KNOWN_ACTIONS.has(a);
      if (!known && !ACTION_RE.test(a)) throw invalid(raw, `bad action ${JSON.stringify(a)}`);
      if (known && !actions.includes(a)) actions.push(a);
    }
  }
  const scope: Scope = { type, name, actions };
  if (cls !== undefined) scope.class = cls;
  return scope;
}

/**
 * Parses every `scope` value of a request. Each value may hold several scopes separated by
 * spaces (OAuth2 style, as containerd sends them). Scopes naming the same resource are
 * merged, keeping the first-seen action order.
 */
export function parseScopes(values: readonly string[]): Scope[] {
  // One scope in one value, as docker and most clients ask: nothing to merge.
  if (values.length === 1) {
    const only = values[0]!;
    if (only !== '' && !only.includes(' ')) return [parseScope(only)];
  }
  const merged = new Map<string, Scope>();
  for (const value of values) {
    for (const raw of value.split(' ')) {
      if (raw === '') continue;
      const s = parseScope(raw);
      const key = `${s.type}\u0000${s.class ?? ''}\u0000${s.name}`;
      const prev = merged.get(key);
      if (prev) {
        for (const a of s.actions) if (!prev.actions.includes(a)) prev.actions.push(a);
      } else {
        if (merged.size >= MAX_SCOPES)
          throw new PurserError('INVALID_SCOPE', `more than ${MAX_SCOPES} scopes`);
        merged.set(key, s);
      }
    }
  }
  return [...merged.values()];
}

/** `repository::…`: the empty-name scope Zot's `/v2/_catalog` challenge asks for. */
export function isZotCatalogScope(s: Scope): boolean {
  return s.type === 'repository' && s.name === '' && s.class === undefined;
}

export function formatScope(s: Scope): string {
  return formatScopeWith(s, s.actions);
}

/** `s` as text with `actions` in place of its own (what was granted of it), without a copy of it. */
export function formatScopeWith(s: Scope, actions: readonly string[]): string {
  return `${s.type}${s.class ? `(${s.class})` : ''}:${s.name}:${actions.join(',')}`;
}
