// Purser as express middleware: app.use('/auth', purser.handler). express's own body parser
// may run first; Purser then takes the form from req.body.
// Run: node dist/examples/express.js
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { createPurser, generateSigningKeyPair } from 'purser';
import type { Running } from './node-http.js';
import { appUsers } from './own-user-table.js';

export async function start(port = 0): Promise<Running> {
  const purser = await createPurser({
    issuer: 'example-auth',
    services: 'registry.local',
    signingKeys: [generateSigningKeyPair('ES256').privateKey],
    authenticators: [await appUsers()],
    acl: [{ match: { account: '*', name: '${account}/**' }, actions: ['pull', 'push'] }],
  });
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use('/auth', purser.handler);
  app.get('/', (_req, res) => {
    res.send('hello from the app\n');
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
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
  const app = await start(Number(process.env.PORT ?? 5001));
  console.log(`token endpoint: ${app.origin}/auth/token`);
  process.once('SIGINT', () => void app.close());
}
