import type { Client, Entry, SearchOptions } from 'ldapts';
import { ResultCodeError } from 'ldapts';
import { type Identity, LDAP_PROVIDER } from '../../core/identity.js';
import { type LoginCacheStore, MemoryLoginCacheStore } from '../../state/login-cache.js';
import { ExpiringCache } from '../../util/expiring-cache.js';
import { type Logger, silentLogger } from '../../util/log.js';
import { SingleFlight } from '../../util/single-flight.js';
import type { Authenticator, AuthnContext, AuthnResult, Credentials } from '../authenticator.js';
import { LoginCache, type LoginCacheState } from '../login-cache.js';
import { Directory, type DirectoryOptions, directoryUnavailable, quietly, values } from './directory.js';
import { fillDn, fillFilter } from './template.js';

/** Where a user's groups come from (the `ldap.groups` block). */
export type LdapGroupsOptions =
  | { attribute: string; nameAttribute: string; nestedDepth: number }
  | { search: { base: string; filter: string }; nameAttribute: string; nestedDepth: number };

export interface LdapAuthenticatorConfig extends DirectoryOptions {
  /** Bind mode: the DN template. */
  userDn?: string | undefined;
  /** Search-then-bind mode. */
  userSearch?: { base: string; filter: string } | undefined;
  groups?: LdapGroupsOptions | undefined;
  maxGroups: number;
}

export interface LdapAuthenticatorOptions {
  now?: () => number;
  /** Shared with the static users: a remembered LDAP login is an entry like theirs. */
  loginCache?: LoginCacheStore;
  loginCacheSecret?: Buffer;
  onLoginCache?: (state: LoginCacheState) => void;
  logger?: Logger;
}

// A username this long is no directory's: refused without asking.
const MAX_USERNAME = 256;
// Identities of remembered logins kept in this process (the shared store keeps only that a
// login succeeded; the groups it found live here).
const MAX_REMEMBERED = 10_000;
const REFUSED: AuthnResult = { outcome: 'rejected', reason: 'invalid username or password' };

/**
 * Basic credentials checked against an LDAP directory: bind as the user (its DN from a
 * template, or found by the service account's search), then read its groups. A directory
 * that cannot be asked throws UNAVAILABLE (a 503, not a failed login).
 */
export class LdapAuthenticator implements Authenticator {
  readonly kind = 'ldap';
  readonly #c: LdapAuthenticatorConfig;
  readonly #dir: Directory;
  readonly #cache: LoginCache;
  readonly #identities: ExpiringCache<Identity>;
  readonly #inFlight = new SingleFlight<AuthnResult>();
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #onLoginCache: (state: LoginCacheState) => void;
  readonly #logger: Logger;
  /** What a remembered login depends on besides the password: another directory, another entry. */
  readonly #fingerprint: string;

  constructor(config: LdapAuthenticatorConfig, cacheSeconds: number, options: LdapAuthenticatorOptions = {}) {
    this.#c = config;
    this.#dir = new Directory(config);
    this.#now = options.now ?? Date.now;
    this.#ttlMs = cacheSeconds * 1000;
    this.#cache = new LoginCache(cacheSeconds, {
      store: options.loginCache ?? new MemoryLoginCacheStore({ now: this.#now }),
      ...(options.loginCacheSecret ? { secret: options.loginCacheSecret } : {}),
    });
    this.#identities = new ExpiringCache(MAX_REMEMBERED, {
      sizeOf: (k, v) => 2 * k.length + 2 * v.account.length + 64 * (1 + (v.groups?.length ?? 0)),
    });
    this.#onLoginCache = options.onLoginCache ?? (() => {});
    this.#logger = options.logger ?? silentLogger;
    this.#fingerprint = JSON.stringify([
      'ldap',
      config.url,
      config.userDn ?? null,
      config.userSearch ?? null,
      config.groups ?? null,
    ]);
  }

  async verified(credentials: Credentials): Promise<boolean> {
    const { username } = credentials;
    const password = credentials.password.reveal();
    if (username === '' || username.length > MAX_USERNAME || password === '') return false;
    const id = this.#cache.idOf(credentials, this.#fingerprint);
    return (
      (await this.#cache.state(id, this.#now())) !== 'miss' &&
      this.#identities.get(id, this.#now()) !== undefined
    );
  }

  async authenticate(credentials: Credentials, ctx: AuthnContext): Promise<AuthnResult> {
    const { username } = credentials;
    const password = credentials.password.reveal();
    if (username === '' || username.length > MAX_USERNAME) return { outcome: 'no-match' };
    // A simple bind with an empty password is an anonymous bind, a success on many servers.
    if (password === '') {
      ctx.trace?.push('ldap: empty password refused without asking the directory');
      return REFUSED;
    }
    const id = this.#cache.idOf(credentials, this.#fingerprint);
    const state = await this.#cache.state(id, this.#now());
    const remembered = state === 'miss' ? undefined : this.#identities.get(id, this.#now());
    this.#onLoginCache(remembered ? state : 'miss');
    if (remembered) {
      ctx.trace?.push('ldap: a recent successful login (login cache)');
      if (state === 'refresh') void this.#check(id, username, password).catch(() => {});
      return { outcome: 'authenticated', identity: remembered };
    }
    return this.#check(id, username, password, ctx.trace);
  }

  /** One directory round per credential however many requests ask at once. */
  #check(id: string, username: string, password: string, trace?: string[]): Promise<AuthnResult> {
    return this.#inFlight.run(id, async () => {
      const r = await this.#login(username, password, trace);
      if (r.outcome === 'authenticated' && this.#ttlMs > 0) {
        await this.#cache.remember(id, this.#now());
        this.#identities.set(id, r.identity, this.#now() + this.#ttlMs, this.#now());
      }
      return r;
    });
  }

  async #login(username: string, password: string, trace?: string[]): Promise<AuthnResult> {
    let dn: string;
    let entry: Entry | undefined;
    if (this.#c.userSearch) {
      const found = await this.#findUser(username);
      if (found === 'none') {
        trace?.push('ldap: no entry matches userSearch');
        return { outcome: 'no-match' };
      }
      if (found === 'ambiguous') {
        this.#logger.warn('ldap: userSearch matches more than one entry; login refused', {
          username: username.slice(0, 64),
        });
        return REFUSED;
      }
      entry = found;
      dn = found.dn;
    } else {
      dn = fillDn(this.#c.userDn!, username);
    }
    const client = await this.#dir.connect();
    try {
      if (!(await this.#dir.bind(client, dn, password))) {
        trace?.push(`ldap: bind as ${dn} refused`);
        return REFUSED;
      }
      trace?.push(`ldap: bound as ${dn}`);
      const groups = await this.#groups(client, username, dn, entry);
      if (groups.length) trace?.push(`ldap: groups ${JSON.stringify(groups)}`);
      const identity: Identity = {
        account: username,
        provider: LDAP_PROVIDER,
        labels: {},
        claims: {},
        ...(groups.length ? { groups } : {}),
      };
      return { outcome: 'authenticated', identity };
    } finally {
      void quietly(client);
    }
  }

  async #findUser(username: string): Promise<Entry | 'none' | 'ambiguous'> {
    const s = this.#c.userSearch!;
    const g = this.#c.groups;
    let entries: Entry[];
    try {
      entries = await this.#dir.search(s.base, {
        scope: 'sub',
        filter: fillFilter(s.filter, { username }),
        sizeLimit: 2,
        attributes: g && 'attribute' in g ? [g.attribute] : ['1.1'],
      });
    } catch (e) {
      // sizeLimitExceeded (4): more than one entry.
      if (e instanceof ResultCodeError && e.code === 4) return 'ambiguous';
      if (e instanceof ResultCodeError && e.code === 32) return 'none';
      throw e instanceof ResultCodeError ? directoryUnavailable('userSearch', e) : e;
    }
    if (entries.length === 0) return 'none';
    if (entries.length > 1) return 'ambiguous';
    return entries[0]!;
  }

  /**
   * The user's group names. From `memberOf` (the attribute), the groups' own memberOf is
   * followed `nestedDepth` levels up; from a group search, the search is repeated with each
   * group found as `{dn}`. Reads go through the service account when there is one, else the
   * user's own connection. At most `maxGroups` groups are looked at.
   */
  async #groups(user: Client, username: string, dn: string, entry: Entry | undefined): Promise<string[]> {
    const g = this.#c.groups;
    if (!g) return [];
    const search = async (base: string, options: SearchOptions): Promise<Entry[]> => {
      try {
        if (this.#dir.hasServiceAccount) return await this.#dir.search(base, options);
        return (await user.search(base, options)).searchEntries;
      } catch (e) {
        if (e instanceof ResultCodeError && e.code === 32) return [];
        if (e instanceof ResultCodeError && e.code === 4) return [];
        throw directoryUnavailable('group lookup', e);
      }
    };
    const names: string[] = [];
    const seen = new Set<string>();
    const max = this.#c.maxGroups;
    const key = (d: string) => d.toLowerCase();
    const addName = (e: Entry) => {
      const n = values(e, g.nameAttribute)[0];
      if (n !== undefined && !names.includes(n)) names.push(n);
    };

    if ('attribute' in g) {
      const own =
        entry ??
        (await search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [g.attribute] }))[0];
      let level = own ? values(own, g.attribute) : [];
      for (let depth = 0; level.length > 0 && depth <= g.nestedDepth; depth++) {
        const fresh = level.filter((d) => !seen.has(key(d))).slice(0, max - seen.size);
        for (const d of fresh) seen.add(key(d));
        const attrs = depth < g.nestedDepth ? [g.nameAttribute, g.attribute] : [g.nameAttribute];
        const found = await Promise.all(
          fresh.map((d) => search(d, { scope: 'base', filter: '(objectClass=*)', attributes: attrs })),
        );
        level = [];
        for (const [e] of found) {
          if (!e) continue;
          addName(e);
          if (depth < g.nestedDepth) level.push(...values(e, g.attribute));
        }
      }
      return names;
    }

    let level = [dn];
    for (let depth = 0; level.length > 0 && depth <= g.nestedDepth && seen.size < max; depth++) {
      const found = await Promise.all(
        level.map((d) =>
          search(g.search.base, {
            scope: 'sub',
            filter: fillFilter(g.search.filter, { dn: d, username }),
            sizeLimit: max,
            attributes: [g.nameAttribute],
          }),
        ),
      );
      level = [];
      for (const e of found.flat()) {
        if (seen.has(key(e.dn)) || seen.size >= max) continue;
        seen.add(key(e.dn));
        addName(e);
        level.push(e.dn);
      }
    }
    return names;
  }

  close(): Promise<void> {
    return this.#dir.close();
  }
}
