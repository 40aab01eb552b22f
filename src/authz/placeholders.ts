import type { Identity } from '../core/identity.js';

export const PLACEHOLDER_RE = /\$\{([A-Za-z_][A-Za-z0-9_.\-/]*)\}/g;

/** Checks a placeholder name when the config loads. Returns an error message or undefined. */
export function checkPlaceholder(name: string): string | undefined {
  if (name === 'account' || name === 'provider') return undefined;
  if (/^(claims|labels)\.[^.].*$/.test(name)) return undefined;
  return `unknown placeholder \${${name}}: use \${account}, \${provider}, \${labels.NAME} or \${claims.NAME}`;
}

/** Walks `a.b.c`, also trying dotted keys such as `kubernetes.io` as one step. */
function walk(root: unknown, parts: readonly string[]): unknown {
  if (parts.length === 0) return root;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) return undefined;
  const obj = root as Record<string, unknown>;
  for (let take = parts.length; take >= 1; take--) {
    const key = parts.slice(0, take).join('.');
    if (Object.hasOwn(obj, key)) {
      const found = walk(obj[key], parts.slice(take));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * The value of a placeholder for an identity, or undefined when it has none (a missing
 * claim, an empty account, a non-scalar claim): a rule whose placeholder has no value does
 * not match, rather than matching with an empty string.
 */
export function resolvePlaceholder(name: string, identity: Identity): string | undefined {
  let v: unknown;
  if (name === 'account') v = identity.account;
  else if (name === 'provider') v = identity.provider;
  else if (name.startsWith('labels.')) v = identity.labels[name.slice(7)];
  else if (name.startsWith('claims.')) v = walk(identity.claims, name.slice(7).split('.'));
  if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
  if (typeof v === 'boolean') v = String(v);
  return typeof v === 'string' && v !== '' ? v : undefined;
}
