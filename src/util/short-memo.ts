/**
 * `compute`, a pure function of its key (a digest), remembered for keys of at most
 * `maxKeyLength` characters in a map of at most `maxEntries`, cleared whenever it fills: a
 * hit is one Map lookup, and the memory is bounded (entries × key length). Longer keys are
 * computed every time.
 */
export function shortMemo(
  compute: (key: string) => string,
  maxKeyLength: number,
  maxEntries = 4096,
): (key: string) => string {
  const known = new Map<string, string>();
  return (key) => {
    if (key.length > maxKeyLength) return compute(key);
    const hit = known.get(key);
    if (hit !== undefined) return hit;
    const value = compute(key);
    if (known.size >= maxEntries) known.clear();
    known.set(key, value);
    return value;
  };
}
