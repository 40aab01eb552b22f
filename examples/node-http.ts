// Purser in a plain node:http server, under /auth, next to the app's own routes.
// Run: node dist/examples/node-http.js   (then: curl -u alice:alice-pw 'http://127.0.0.1:5001/auth/token?scope=repository:alice/app:pull')
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { type Authenticator, createPurser, generateSigningKeyPair, type Purser } from 'purser';

/** Stands in for wherever your passwords live (see own-user-table.ts for a real one). */
const demoUsers: Authenticator = {
  kind: 'demo',
  async authenticate(c) {
    if (c.username !== 'alice') return { outcome: 'no-match' };
    if (c.password.reveal() !== 'alice-pw')
      return { outcome: 'rejected', reason: 'invalid username or password' };
    return {
      outcome: 'authenticated',
      identity: { account: 'alice', provider: 'demo', labels: {}, claims: {} },
    };
  },
};

export interface Running {
  origin: string;
  purser: Purser;
  close(): Promise<void>;
}

export async function start(port = 0): Promise<Running> {
  const purser = await createPurser({
    issuer: 'example-auth',
    services: 'registry.local',
    // Keep a key across restarts in a real deployment: tokens signed by a lost key stop verifying.
    signingKeys: [generateSigningKeyPair('ES256').privateKey],
    authenticators: [demoUsers],
    // The file's ACL syntax: everyone pulls and pushes their own namespace.
    acl: [{ match: { account: '*', name: '${account}/**' }, actions: ['pull', 'push'] }],
  });
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/auth/')) return purser.handler(req, res);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from the app\n');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
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
  const app = await start(Number(process.env.PORT ?? 5001));
  console.log(`token endpoint: ${app.origin}/auth/token`);
  process.once('SIGINT', () => void app.close());
}
