// An app with its own user table: Purser authenticates against the app's users (scrypt
// hashes in memory here; a database table works the same way) through a custom
// Authenticator, and the app's own code decides access through a custom Authorizer.
// Run: node dist/examples/own-user-table.js
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  type Authenticator,
  type Authorizer,
  createPurser,
  generateSigningKeyPair,
  type Identity,
  type SigningKeyInput,
} from 'purser';
import type { Running } from './node-http.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

type Role = 'admin' | 'developer' | 'reader';
interface UserRow {
  salt: Buffer;
  hash: Buffer;
  role: Role;
  team: string;
}

/** The app's user table. */
export class UserTable {
  readonly #rows = new Map<string, UserRow>();

  async add(name: string, password: string, role: Role, team: string): Promise<void> {
    const salt = randomBytes(16);
    this.#rows.set(name, { salt, hash: await scrypt(password, salt, 32), role, team });
  }

  /** The row when the password is right; undefined otherwise (same work either way). */
  async check(name: string, password: string): Promise<UserRow | undefined> {
    const row = this.#rows.get(name);
    const hash = await scrypt(password, row?.salt ?? Buffer.alloc(16), 32);
    return row && timingSafeEqual(hash, row.hash) ? row : undefined;
  }

  has(name: string): boolean {
    return this.#rows.has(name);
  }
}

/** Authenticates against the table; role and team become identity labels. */
export function tableAuthenticator(table: UserTable): Authenticator {
  return {
    kind: 'app-users',
    async authenticate(c) {
      // Names the app does not know are left to whatever comes next.
      if (!table.has(c.username)) return { outcome: 'no-match' };
      const row = await table.check(c.username, c.password.reveal());
      if (!row) return { outcome: 'rejected', reason: 'invalid username or password' };
      const identity: Identity = {
        account: c.username,
        provider: 'app-users',
        labels: { role: row.role, team: row.team },
        claims: {},
      };
      return { outcome: 'authenticated', identity };
    },
  };
}

/**
 * The app's own rules: admins may do anything; developers pull everything and push to
 * their own and their team's namespace; readers pull. Purser clamps the answer to what
 * was asked.
 */
export const roleAuthorizer: Authorizer = {
  authorize({ identity, scopes }) {
    const role = identity.labels.role as Role | undefined;
    return scopes.map((s) => {
      let allowed: string[] = [];
      if (s.type === 'repository') {
        const own =
          s.name.startsWith(`${identity.account}/`) || s.name.startsWith(`${identity.labels.team}/`);
        if (role === 'admin') allowed = ['pull', 'push', 'delete'];
        else if (role === 'developer') allowed = own ? ['pull', 'push'] : ['pull'];
        else if (role === 'reader') allowed = ['pull'];
      }
      const granted = s.actions.filter((a) => allowed.includes(a));
      return { requested: s, granted, rule: undefined, explanation: `role ${role ?? 'none'}` };
    });
  },
};

/** The demo users every example shares. */
export async function appUsers(): Promise<Authenticator> {
  const table = new UserTable();
  await table.add('alice', 'alice-pw', 'developer', 'team-a');
  await table.add('bob', 'bob-pw', 'reader', 'team-b');
  await table.add('root', 'root-pw', 'admin', 'ops');
  return tableAuthenticator(table);
}

export interface Options {
  port?: number;
  /** The token signing key; a fresh one by default (a registry must be given its certificate). */
  signingKey?: SigningKeyInput;
  issuer?: string;
  service?: string;
}

export async function start(options: Options = {}): Promise<Running> {
  const purser = await createPurser({
    issuer: options.issuer ?? 'example-auth',
    services: options.service ?? 'registry.local',
    signingKeys: [options.signingKey ?? generateSigningKeyPair('ES256').privateKey],
    authenticators: [await appUsers()],
    authorizer: roleAuthorizer,
  });
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/auth/')) return purser.handler(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    purser,
    async close() {
      await purser.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await start({ port: Number(process.env.PORT ?? 5001) });
  console.log(`token endpoint: ${app.origin}/auth/token`);
  process.once('SIGINT', () => void app.close());
}
