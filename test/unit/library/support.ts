// Shared pieces of the library tests: an app's own user table as an Authenticator, an
// authorizer of the app's own, and a node:http server around any handler.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Authenticator, Authorizer, Identity } from '../../../src/index.js';

/** The app's user table: name → password (a real app keeps hashes). */
export function userTable(users: Record<string, string>): Authenticator {
  return {
    kind: 'app-users',
    async authenticate(c) {
      if (!Object.hasOwn(users, c.username)) return { outcome: 'no-match' };
      if (users[c.username] !== c.password.reveal()) return { outcome: 'rejected', reason: 'wrong password' };
      const identity: Identity = { account: c.username, provider: 'app-users', labels: {}, claims: {} };
      return { outcome: 'authenticated', identity };
    },
  };
}

/** Pull and push on repositories under the caller's own name; nothing else. */
export const ownNamespace: Authorizer = {
  authorize(req) {
    return req.scopes.map((s) => {
      const mine = s.type === 'repository' && s.name.startsWith(`${req.identity.account}/`);
      const granted = mine ? s.actions.filter((a) => a === 'pull' || a === 'push') : [];
      return { requested: s, granted, rule: undefined, explanation: mine ? 'own namespace' : 'not yours' };
    });
  },
};

export interface Served {
  origin: string;
  close: () => Promise<void>;
}

/** Serves a handler (or a whole app) on 127.0.0.1, a random port. */
export async function serve(handler: RequestListener): Promise<Served> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

export const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});
