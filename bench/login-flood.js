// Memory and log left behind by refused logins with huge usernames (issue 8 hole 6).
// Usage, after `npm run build`: node --expose-gc bench/login-flood.js [requests]
// 16 connections send Basic logins with distinct 47 KB usernames to a token server with one
// cost-10 user; prints retained heap (after gc), RSS, limiter windows and log volume.
import { basic, configObject, makeKeys, startServer } from '../dist/test/unit/support.js';

const N = Number(process.argv[2] ?? 3000);
const k = await makeKeys();
const srv = await startServer(
  configObject(k, {
    users: { alice: '$2b$10$uckWh10NgqnNAC680j.UROa.pLnXcr9ui/vmgQddfMC5Otk6rEebS' },
    auth: { anonymous: false },
  }),
  k.dir,
  { captureLogs: true },
);
const mem = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
};
const before = mem();
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < N) {
      const i = next++;
      const r = await fetch(`${srv.url}/token?service=registry.test`, {
        headers: { authorization: basic(`${'m'.repeat(47_000)}${i}`, 'x') },
      });
      await r.arrayBuffer();
    }
  }),
);
let bytes = 0;
let longest = 0;
for (const l of srv.logs) {
  bytes += l.length;
  longest = Math.max(longest, l.length);
}
srv.logs.length = 0;
const after = mem();
console.log(
  `${N} refused logins with 47 KB usernames: heap used +${(after.heap - before.heap).toFixed(1)} MiB, ` +
    `RSS +${(after.rss - before.rss).toFixed(1)} MiB, limiter windows ${srv.state.limiter.size}, ` +
    `log ${(bytes / 2 ** 20).toFixed(2)} MiB, longest line ${longest}`,
);
await srv.close();
k.cleanup();
