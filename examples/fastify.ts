// Purser as a fastify plugin under /auth: the plugin hands fastify's raw request to
// purser.handler through reply.hijack().
// Run: node dist/examples/fastify.js
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { createPurser, generateSigningKeyPair } from 'purser';
import purserFastify from 'purser/fastify';
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
  const app = Fastify();
  await app.register(purserFastify, { purser, prefix: '/auth' });
  app.get('/', async () => 'hello from the app\n');
  const origin = await app.listen({ host: '127.0.0.1', port });
  return {
    origin,
    purser,
    async close() {
      await purser.close();
      await app.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await start(Number(process.env.PORT ?? 5001));
  console.log(`token endpoint: ${app.origin}/auth/token`);
  process.once('SIGINT', () => void app.close());
}
