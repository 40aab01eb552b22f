import { createHash } from 'node:crypto';
import { type Secret, safeEqual } from '../util/secret.js';
import type { Authenticator, AuthnResult, Credentials } from './authenticator.js';
import { bcryptVerify } from './bcrypt.js';
import { LoginCache } from './login-cache.js';

export type StoredCredential = { hash: string } | { password: Secret };

// Checked when no authenticator knows a username, so that an unknown user costs as much as
// a wrong password and response times do not tell which names exist.
const DUMMY_HASH = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8.p4ZVyKcSd5ySVkjeZfLBdM9gGxWq';

/** Spends one bcrypt verification, for timing parity on unknown users. */
export async function dummyVerify(password: string): Promise<void> {
  await bcryptVerify(password, DUMMY_HASH);
}

/** Static accounts: bcrypt hashes (inline or htpasswd) and plaintext passwords. */
export class StaticUsers implements Authenticator {
  readonly kind = 'static';
  readonly #users: ReadonlyMap<string, StoredCredential>;
  readonly #cache: LoginCache;

  constructor(users: ReadonlyMap<string, StoredCredential>, cacheSeconds: number) {
    this.#users = users;
    this.#cache = new LoginCache(cacheSeconds);
  }

  has(username: string): boolean {
    return this.#users.has(username);
  }

  get size(): number {
    return this.#users.size;
  }

  /**
   * A fingerprint of the user's stored credential, bound into refresh tokens so that changing
   * a password (or removing the user) revokes them. Undefined when the user does not exist.
   */
  credentialFingerprint(username: string): string | undefined {
    const c = this.#users.get(username);
    if (!c) return undefined;
    const material = 'hash' in c ? c.hash : `plain:${c.password.reveal()}`;
    return createHash('sha256')
      .update('purser-credential\0')
      .update(username)
      .update('\0')
      .update(material)
      .digest('base64url')
      .slice(0, 22);
  }

  async authenticate(credentials: Credentials, _ctx: unknown): Promise<AuthnResult> {
    const stored = this.#users.get(credentials.username);
    if (!stored) return { outcome: 'no-match' };
    const ok =
      'hash' in stored
        ? await this.#checkHash(credentials, stored.hash)
        : safeEqual(credentials.password.reveal(), stored.password.reveal());
    if (!ok) return { outcome: 'rejected', reason: 'invalid username or password' };
    return {
      outcome: 'authenticated',
      identity: { account: credentials.username, provider: 'static', labels: {}, claims: {} },
    };
  }

  async #checkHash(credentials: Credentials, hash: string): Promise<boolean> {
    const pw = credentials.password.reveal();
    if (this.#cache.has(credentials.username, pw, hash)) return true;
    // @node-rs/bcrypt runs on libuv's thread pool: the event loop stays free.
    const ok = await bcryptVerify(pw, hash);
    if (ok) this.#cache.add(credentials.username, pw, hash);
    return ok;
  }
}
