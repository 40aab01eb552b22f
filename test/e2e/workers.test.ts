// `serve` with two workers and no Redis: connections are answered by both (shown by the
// per-worker series of /metrics, which any worker answers with the sum over all of them);
// an attacker spreading guesses over many connections, so over both workers, gets exactly
// `failedLogins.max` attempts, as against one process; the lockout then holds on both; a
// worker killed is started again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { bcryptHash } from '../helpers/bcrypt.js';
import { parseExposition } from '../helpers/prom-text.js';
import { generateKeys, type KeyPair, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** One request on a connection of its own (no keep-alive): the primary hands each to a worker. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(p: Purser) {
  const r = await get(`${p.url}/metrics`);
  assert.equal(r.status, 200);
  return parseExposition(r.body);
}

const perWorker = (m: ReturnType<typeof parseExposition>) =>
  [0, 1].map((w) => m.value('purser_worker_requests_total', { worker: String(w) }));

describe('serve --workers 2 without Redis', () => {
  let dir: string;
  let keys: KeyPair;
  let purser: Purser;

  before(async () => {
    dir = makeTempDir('purser-workers-');
    keys = await generateKeys(dir, 'ES256');
    purser = await startPurser(
      {
        workers: 2,
        token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
        auth: { failedLogins: { max: 3, windowSeconds: 300 } },
        users: { alice: await bcryptHash('right') },
        acl: [{ match: { account: '' }, actions: ['pull'] }],
      },
      { dir, startTimeoutMs: 40_000 },
    );
  });

  after(async () => {
    await purser?.stop();
    if (dir) removeDir(dir);
  });

  test('both workers answer; /metrics sums their series, default metrics included', async () => {
    const before = await scrape(purser);
    const n = 40;
    for (let i = 0; i < n; i++) {
      const r = await get(`${purser.url}/token?service=registry.test&scope=repository:a/b:pull`);
      assert.equal(r.status, 200);
    }
    const m = await scrape(purser);
    const [w0, w1] = perWorker(m);
    const [b0, b1] = perWorker(before);
    assert.ok(w0! - b0! > 0 && w1! - b1! > 0, `both workers answered: ${w0! - b0!} and ${w1! - b1!}`);
    // The 40 token requests, whichever worker served them, plus the scrapes.
    assert.equal(w0! + w1! - b0! - b1!, n + 1);
    const ok = (x: typeof m) => x.value('purser_token_requests_total', { grant: 'get', outcome: 'ok' });
    assert.equal(ok(m) - ok(before), n, 'token requests summed over the workers');
    assert.equal(m.value('purser_workers'), 2);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      assert.ok(
        m.samples.some((s) => s.name === name),
        `${name} is exposed`,
      );
  });

  test('guesses spread over both workers get max attempts in all; the lockout holds on both', async () => {
    const before = await scrape(purser);
    const guesses = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        get(`${purser.url}/token?service=registry.test`, { authorization: basic('alice', `wrong-${i}`) }),
      ),
    );
    const statuses = guesses.map((g) => g.status);
    assert.equal(statuses.filter((s) => s === 401).length, 3, `401s among ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 13);
    // The right password, on fresh connections, is refused by whichever worker answers.
    for (let i = 0; i < 8; i++) {
      const r = await get(`${purser.url}/token?service=registry.test`, {
        authorization: basic('alice', 'right'),
      });
      assert.equal(r.status, 429);
    }
    const m = await scrape(purser);
    const [w0, w1] = perWorker(m);
    const [b0, b1] = perWorker(before);
    assert.ok(w0! - b0! > 0 && w1! - b1! > 0, `both workers answered: ${w0! - b0!} and ${w1! - b1!}`);
    const unauthorized = (x: typeof m) =>
      x.value('purser_token_requests_total', { grant: 'get', outcome: 'unauthorized' });
    assert.equal(unauthorized(m) - unauthorized(before), 3);
  });

  test('a worker that dies is started again', async () => {
    const m = await scrape(purser);
    assert.equal(m.value('purser_worker_restarts_total'), 0);
    // The workers are the primary's children.
    const pids = execFileSync('pgrep', ['-P', String(purser.proc.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
    assert.equal(pids.length, 2, `two workers: ${pids.join(',')}`);
    process.kill(pids[0]!, 'SIGKILL');
    await purser.proc.waitForLine(/worker exited unexpectedly; restarting it/, 10_000);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const x = await scrape(purser);
      if (x.value('purser_workers') === 2 && x.value('purser_worker_restarts_total') === 1) break;
      if (Date.now() > deadline) throw new Error('the worker was not started again');
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = await get(`${purser.url}/token?service=registry.test&scope=repository:a/b:pull`);
    assert.equal(r.status, 200);
  });
});
