/**
 * The key a registry is known by: scheme, path, trailing slashes and case dropped.
 * `https://Registry.example.com:5000/v2/` -> `registry.example.com:5000`.
 */
export function normaliseRegistry(input: string): string {
  let s = input.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  return s.toLowerCase();
}

/** The host part of a normalised registry (no port; IPv6 brackets kept). */
export function registryHost(registry: string): string {
  const r = normaliseRegistry(registry);
  if (r.startsWith('[')) {
    const end = r.indexOf(']');
    return end >= 0 ? r.slice(0, end + 1) : r;
  }
  const colon = r.lastIndexOf(':');
  return colon >= 0 && r.indexOf(':') === colon ? r.slice(0, colon) : r;
}
