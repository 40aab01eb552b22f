import type { ConnectionOptions } from 'node:tls';
import { Client, type Entry, ResultCodeError, type SearchOptions } from 'ldapts';
import { PurserError } from '../../core/errors.js';
import type { Secret } from '../../core/secret.js';

/** How Purser reaches the directory (the `ldap:` block's connection keys). */
export interface DirectoryOptions {
  url: string;
  startTLS: boolean;
  /** PEM CA bundle (the file's content); undefined: the system's. */
  ca?: string | undefined;
  servername?: string | undefined;
  bindDn?: string | undefined;
  bindPassword?: Secret | undefined;
  connectTimeoutMs: number;
  timeoutMs: number;
}

// Result codes that mean "these credentials are no good" rather than "cannot decide":
// invalidCredentials (49, also a ppolicy-locked or AD-disabled account), inappropriate
// authentication (48), noSuchObject (32) and invalidDNSyntax (34) for a DN built from the
// username, unwillingToPerform (53: a disabled account or an empty password on some servers).
const REFUSED_CODES = new Set([32, 34, 48, 49, 53]);

/** True when the directory said no to a bind (not: could not be asked). */
export function isBindRefusal(e: unknown): boolean {
  return e instanceof ResultCodeError && REFUSED_CODES.has(e.code);
}

/** Why an operation failed, for the operator's log (no secret is ever in an ldapts error). */
function reason(e: unknown): string {
  if (e instanceof ResultCodeError) return `result code ${e.code}: ${e.message}`;
  const code = (e as NodeJS.ErrnoException).code;
  const msg = e instanceof Error ? e.message : String(e);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** The caller-facing 503: the directory is down, slow, untrusted or refused the service account. */
export function directoryUnavailable(what: string, e: unknown): PurserError {
  return new PurserError('UNAVAILABLE', 'the LDAP directory cannot be reached; try again shortly', {
    detail: `${what}: ${reason(e)}`,
    cause: e,
  });
}

/** Attribute values as strings (ldapts gives a string, a list, or Buffers). */
export function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/**
 * Connections to one directory: a fresh one per user bind (a bind changes who the
 * connection is), and one long-lived connection bound as the service account, shared by
 * every search (LDAP multiplexes operations on a connection by message id) and replaced
 * when it breaks.
 */
export class Directory {
  readonly #o: DirectoryOptions;
  readonly #tls: ConnectionOptions;
  #service: Promise<Client> | undefined;
  /** The client #service resolved to, once it has. */
  #serviceClientNow: Client | undefined;
  #closed = false;

  constructor(options: DirectoryOptions) {
    this.#o = options;
    this.#tls = {
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    };
  }

  get hasServiceAccount(): boolean {
    return this.#o.bindDn !== undefined;
  }

  /** A new connection, TLS established (LDAPS or StartTLS), not yet bound. */
  async connect(): Promise<Client> {
    if (this.#closed) throw new PurserError('UNAVAILABLE', 'the LDAP authenticator is closed');
    const client = new Client({
      url: this.#o.url,
      connectTimeout: this.#o.connectTimeoutMs,
      timeout: this.#o.timeoutMs,
      // ldapts makes any connection given tlsOptions a TLS one, ldap:// included: give them
      // for ldaps:// only, and to startTLS a copy (it stores the socket in the object).
      ...(this.#o.url.startsWith('ldaps:') ? { tlsOptions: { ...this.#tls } } : {}),
      strictDN: false,
    });
    if (this.#o.startTLS) {
      try {
        await client.startTLS({ ...this.#tls });
      } catch (e) {
        await quietly(client);
        throw directoryUnavailable('StartTLS', e);
      }
    }
    return client;
  }

  /**
   * Binds `client` as `dn`. Resolves true, false when the directory refused the
   * credentials; throws UNAVAILABLE when it could not be asked. Never sends an empty
   * password: a simple bind with one is an anonymous bind, which many servers accept.
   */
  async bind(client: Client, dn: string, password: string): Promise<boolean> {
    if (password === '') return false;
    try {
      await client.bind(dn, password);
      return true;
    } catch (e) {
      if (isBindRefusal(e)) return false;
      throw directoryUnavailable('bind', e);
    }
  }

  /** Runs a search on the service connection (anonymous when no bindDn is configured). */
  async search(base: string, options: SearchOptions): Promise<Entry[]> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.#serviceClient();
      try {
        return (await client.search(base, options)).searchEntries;
      } catch (e) {
        if (e instanceof ResultCodeError) throw e;
        // The shared connection broke (the server restarted, an idle timeout): drop it, and
        // try once more on a new one.
        this.#dropService(client);
        if (attempt > 0 || !isBrokenConnection(e)) throw directoryUnavailable('search', e);
      }
    }
  }

  #serviceClient(): Promise<Client> {
    const current = this.#service;
    if (current) {
      return current.then((c) => {
        if (c.isConnected) return c;
        this.#dropService(c);
        return this.#serviceClient();
      });
    }
    const p = (async () => {
      const client = await this.connect();
      const { bindDn, bindPassword } = this.#o;
      if (bindDn !== undefined && bindPassword !== undefined) {
        try {
          await client.bind(bindDn, bindPassword.reveal());
        } catch (e) {
          await quietly(client);
          throw directoryUnavailable(
            isBindRefusal(e) ? 'the service account (ldap.bindDn) was refused' : 'service account bind',
            e,
          );
        }
      }
      this.#serviceClientNow = client;
      return client;
    })();
    this.#service = p;
    // A failed connection is not kept: the next search tries again.
    p.catch(() => {
      if (this.#service === p) this.#service = undefined;
    });
    return p;
  }

  #dropService(client: Client): void {
    if (this.#serviceClientNow === client) {
      this.#service = undefined;
      this.#serviceClientNow = undefined;
    }
    void quietly(client);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const p = this.#service;
    this.#service = undefined;
    const c = await p?.catch(() => undefined);
    if (c) await quietly(c);
  }
}

function isBrokenConnection(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || /closed|not connected/i.test(String(e));
}

/** Unbinds and closes, ignoring errors: the connection is being thrown away. */
export async function quietly(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // already closed
  }
}
