import { hash, hashSync, verify } from '@node-rs/bcrypt';

// The one place that talks to the bcrypt library, so its API (and its version) is a detail.
// @node-rs/bcrypt is native and runs on libuv's thread pool: the event loop stays free.

export type BcryptVersion = '2a' | '2b' | '2y';

/** The three prefixes are the same algorithm (they differ only in which old bugs they flag). */
function withVersion(h: string, version: BcryptVersion): string {
  return `$${version}$${h.slice(4)}`;
}

export async function bcryptHash(
  password: string,
  cost: number,
  version: BcryptVersion = '2b',
): Promise<string> {
  return withVersion(await hash(password, cost), version);
}

export function bcryptHashSync(password: string, cost: number, version: BcryptVersion = '2b'): string {
  return withVersion(hashSync(password, cost), version);
}

/** False for a wrong password and for a malformed hash; never throws. */
export async function bcryptVerify(password: string, encoded: string): Promise<boolean> {
  return verify(password, encoded).catch(() => false);
}
