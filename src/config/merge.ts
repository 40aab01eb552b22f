/**
 * Deep merge of configuration documents (the file, then each Secret's `config` over it):
 * a mapping merges key by key into the mapping below it; anything else (a list, a string,
 * a number, a mapping over a non-mapping) replaces what was there; `null` removes the key.
 * Lists replace rather than append so that an overlay's `acl` is the ACL, in its order:
 * appending would put a Secret's rules after the file's catch-all, where they never match.
 */
export function mergeConfig(
  base: Readonly<Record<string, unknown>>,
  overlay: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) define(out, k, v);
  for (const [k, v] of Object.entries(overlay)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    const below = Object.hasOwn(out, k) ? out[k] : undefined;
    define(out, k, isMapping(v) && isMapping(below) ? mergeConfig(below, v) : v);
  }
  return out;
}

/** Merges `overlays` over `base` in the order given. */
export function mergeConfigs(
  base: Readonly<Record<string, unknown>>,
  overlays: readonly Readonly<Record<string, unknown>>[],
): Record<string, unknown> {
  return overlays.reduce<Record<string, unknown>>((acc, o) => mergeConfig(acc, o), { ...base });
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An own property even for `__proto__` (a username may be anything): no prototype is touched. */
function define(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}
