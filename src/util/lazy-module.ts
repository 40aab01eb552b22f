import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/**
 * A module loaded at its first use, synchronously (`require` of an ES module, which Node
 * does from 20.19 and 22.12: package.json's engines). For the parts a configuration may
 * never use (CEL, RE2): each is megabytes of every worker that loads it, and the callers
 * that compile an expression or a pattern are synchronous.
 */
export function lazyModule<T>(specifier: string): () => T {
  let mod: T | undefined;
  return () => {
    mod ??= load(specifier) as T;
    return mod;
  };
}
