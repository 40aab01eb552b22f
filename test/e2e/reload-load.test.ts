// Reload under load (issue 11): the configuration file rewritten 100 times, alternating
// between two valid configurations, while a few keep-alive clients request tokens without
// pause. No request may fail, and every answer must be wholly one configuration's: its
// granted actions and its token lifetime agree (a request never sees half of a swap).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { generateKeys, type KeyPair, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const AUD = 'registry.test';
const RELOADS = 100;
const CLIENTS = 4;
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** The two configurations: what alice gets on team/app, and for how long. */
const SHAPES = [
  { actions: ['pull'], expiresIn: 300 },
  { actions: ['pull', 'push'], expiresIn: 600 },
] as const;

describe('reload under load', () => {
  let dir: string;
  let keys: KeyPair;
  let purser: Purser;

  const config = (shape: (typeof SHAPES)[number]) => ({
    listen: '127.0.0.1:0',
    token: {
      issuer: 'purser',
      service: AUD,
      key: keys.key,
      certificate: keys.crt,
      expiresIn: shape.expiresIn,
    },
    users: { alice: { password: 'pw' } },
    acl: [{ match: { account: 'alice', name: 'team/*' }, actions: [...shape.actions] }],
  });
  // From /metrics, not the log: at this load the token lines outgrow what the harness keeps
  // of a process's output (8 MiB) long before the last reload.
  const reloads = async (): Promise<number> => {
    const text = await (await fetch(`${purser.url}/metrics`)).text();
    const m = /^purser_config_reloads_total\{[^}]*outcome="ok"[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const waitForReloads = async (n: number, what: string) => {
    const deadline = Date.now() + 10_000;
    while ((await reloads()) < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  before(async () => {
    dir = makeTempDir('purser-reload-load-');
    keys = await generateKeys(dir, 'ES256');
    purser = await startPurser(config(SHAPES[0]), { dir });
  });

  after(async () => {
    await purser?.stop();
    if (dir) removeDir(dir);
  });

  test(`${RELOADS} file reloads alternating two configurations during constant token load: 0 failures, every answer one configuration's`, async (t) => {
    const pool = new Pool(purser.url, { connections: CLIENTS, pipelining: 1, keepAliveTimeout: 60_000 });
    const path = `/token?service=${AUD}&scope=${encodeURIComponent('repository:team/app:pull,push')}`;
    const headers = { authorization: basic('alice', 'pw') };
    let stop = false;
    const failures: string[] = [];
    const seen = [0, 0];
    const client = async () => {
      while (!stop) {
        try {
          const res = await pool.request({ path, method: 'GET', headers });
          const text = await res.body.text();
          if (res.statusCode !== 200) {
            failures.push(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
            continue;
          }
          const body = JSON.parse(text) as { token: string; expires_in: number };
          const claims = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString()) as {
            access: { actions: string[] }[];
            exp: number;
            iat: number;
          };
          const actions = claims.access.flatMap((a) => a.actions).join(',');
          const i = SHAPES.findIndex(
            (s) =>
              s.actions.join(',') === actions &&
              s.expiresIn === body.expires_in &&
              claims.exp - claims.iat === s.expiresIn,
          );
          if (i < 0) failures.push(`an answer of neither configuration: ${actions} for ${body.expires_in} s`);
          else seen[i]!++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    const start = await reloads();
    const began = Date.now();
    try {
      for (let n = 1; n <= RELOADS; n++) {
        writeFileSync(purser.configPath, stringify(config(SHAPES[n % 2]!)));
        await waitForReloads(start + n, `reload ${n}`);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
      await pool.close();
    }
    t.diagnostic(
      `${RELOADS} reloads in ${Date.now() - began} ms; answers: ${seen[0]} of configuration A, ${seen[1]} of B; ${failures.length} failed`,
    );
    assert.deepEqual(failures.slice(0, 5), []);
    assert.equal(failures.length, 0);
    assert.ok(seen[0]! > 50 && seen[1]! > 50, `both configurations answered (${seen.join(', ')})`);
    assert.equal(await reloads(), start + RELOADS, 'one reload per rewrite');
  });
});
