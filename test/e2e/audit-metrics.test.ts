// The audit log (audit: file) and the prom-client /metrics of a real `purser serve` with its
// proxy in front of an open distribution 2.8: one event per decision, checked field by field.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseExposition } from '../helpers/prom-text.js';
import { ALICE, BOB, basic, type ProxyStack, startProxyStack } from '../helpers/proxy.js';

const TIMEOUT = 60_000;

type Event = Record<string, unknown>;

describe('audit log and metrics', { timeout: TIMEOUT }, () => {
  let st: ProxyStack;
  let auditPath: string;
  let seen = 0;

  before(async () => {
    st = await startProxyStack({ upstream: 'none', extra: { audit: { file: 'audit.jsonl' } } });
    auditPath = join(st.purser.dir, 'audit.jsonl');
  });
  after(() => st?.stop());

  /** The events written since the last call, waiting for `n` of them. */
  async function nextEvents(n: number): Promise<Event[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const lines = existsSync(auditPath) ? readFileSync(auditPath, 'utf8').split('\n').filter(Boolean) : [];
      if (lines.length >= seen + n || Date.now() > deadline) {
        const out = lines.slice(seen).map((l) => JSON.parse(l) as Event);
        seen = lines.length;
        assert.equal(out.length, n, JSON.stringify(out));
        return out;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const isoNow = (t: unknown) => {
    assert.equal(typeof t, 'string');
    assert.ok(Math.abs(Date.parse(t as string) - Date.now()) < 60_000, String(t));
  };

  test('a token request: issued, with account, provider, requested, granted, rule and the token jti', async () => {
    const r = await fetch(
      `${st.purser.url}/token?service=registry.test&scope=repository:team/app:pull,push`,
      {
        headers: { authorization: basic(BOB) },
      },
    );
    assert.equal(r.status, 200);
    const { token } = (await r.json()) as { token: string };
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string };
    const [e] = await nextEvents(1);
    isoNow(e!.time);
    assert.deepEqual(
      { ...e, time: undefined },
      {
        time: undefined,
        outcome: 'issued',
        status: 200,
        ip: '127.0.0.1',
        account: 'bob',
        provider: 'static',
        claims: {},
        requested: ['repository:team/app:pull,push'],
        granted: ['repository:team/app:pull'],
        rule: [1],
        jti: payload.jti,
      },
    );
    const text = readFileSync(auditPath, 'utf8');
    assert.ok(!text.includes(token) && !text.includes(token.split('.')[2]!), 'no token in the audit log');
    assert.ok(!text.includes(BOB.password), 'no password in the audit log');
  });

  test('a refusal: refused, with the attempted account and the reason, nothing granted', async () => {
    const r = await fetch(`${st.purser.url}/token?service=registry.test&scope=repository:team/app:pull`, {
      headers: { authorization: basic({ username: BOB.username, password: 'wrong-password-xyz' }) },
    });
    assert.equal(r.status, 401);
    const [e] = await nextEvents(1);
    isoNow(e!.time);
    assert.equal(typeof e!.reason, 'string');
    assert.deepEqual(
      { ...e, time: undefined, reason: undefined },
      {
        time: undefined,
        reason: undefined,
        outcome: 'refused',
        status: 401,
        ip: '127.0.0.1',
        account: 'bob',
        provider: '',
        claims: {},
        requested: ['repository:team/app:pull'],
        granted: [],
        rule: [],
        jti: null,
      },
    );
    assert.ok(!readFileSync(auditPath, 'utf8').includes('wrong-password-xyz'));
  });

  test('proxied requests: proxied (Basic, with rules) and denied (anonymous)', async () => {
    const ok = await fetch(`${st.proxyUrl}/v2/team/app/tags/list`, {
      headers: { authorization: basic(ALICE) },
    });
    await ok.arrayBuffer();
    const [p] = await nextEvents(1);
    isoNow(p!.time);
    assert.deepEqual(
      { ...p, time: undefined },
      {
        time: undefined,
        outcome: 'proxied',
        status: ok.status,
        ip: '127.0.0.1',
        account: 'alice',
        provider: 'static',
        claims: {},
        requested: ['repository:team/app:pull'],
        granted: ['repository:team/app:pull'],
        rule: [0],
        jti: null,
        method: 'GET',
        path: '/v2/team/app/tags/list',
      },
    );
    const no = await fetch(`${st.proxyUrl}/v2/team/app/tags/list`);
    await no.arrayBuffer();
    assert.equal(no.status, 401);
    const [d] = await nextEvents(1);
    assert.equal(typeof d!.reason, 'string');
    assert.deepEqual(
      { ...d, time: undefined, reason: undefined },
      {
        time: undefined,
        reason: undefined,
        outcome: 'denied',
        status: 401,
        ip: '127.0.0.1',
        account: '',
        provider: '',
        claims: {},
        requested: ['repository:team/app:pull'],
        granted: [],
        rule: [],
        jti: null,
        method: 'GET',
        path: '/v2/team/app/tags/list',
      },
    );
  });

  test('/metrics parses as the text format, has the default metrics, and purser_* counters move', async () => {
    const scrape = async () => {
      const r = await fetch(`${st.purser.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return parseExposition(await r.text());
    };
    const m1 = await scrape();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles_total',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok(m1.types.has(name), name);
    const ok = { grant: 'get', outcome: 'ok' };
    const byProvider = { grant: 'get', outcome: 'ok', provider: 'static' };
    const pull = { type: 'repository', action: 'pull' };
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${st.purser.url}/token?service=registry.test&scope=repository:team/app:pull`, {
        headers: { authorization: basic(BOB) },
      });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    const px = await fetch(`${st.proxyUrl}/v2/team/app/tags/list`, {
      headers: { authorization: basic(ALICE) },
    });
    await px.arrayBuffer();
    await nextEvents(4);
    const m2 = await scrape();
    assert.equal(
      m2.value('purser_token_requests_total', ok),
      m1.value('purser_token_requests_total', ok) + 3,
    );
    assert.equal(
      m2.value('purser_token_requests_by_provider_total', byProvider),
      m1.value('purser_token_requests_by_provider_total', byProvider) + 3,
    );
    assert.equal(
      m2.value('purser_granted_actions_total', pull),
      m1.value('purser_granted_actions_total', pull) + 3,
    );
    // bob's bcrypt check was cached by the first test: these are hits.
    assert.ok(
      m2.value('purser_login_cache_total', { result: 'hit' }) >=
        m1.value('purser_login_cache_total', { result: 'hit' }) + 3,
    );
    const cls = `${Math.floor(px.status / 100)}xx`;
    assert.equal(
      m2.value('purser_proxy_requests_total', { method: 'GET', status: cls }),
      m1.value('purser_proxy_requests_total', { method: 'GET', status: cls }) + 1,
    );
    assert.equal(
      m2.value('purser_proxy_upstream_duration_seconds_count'),
      m1.value('purser_proxy_upstream_duration_seconds_count') + 1,
    );
    assert.ok(m2.value('purser_proxy_bytes_total', { direction: 'download' }) > 0);
    assert.equal(m2.types.get('purser_bcrypt_queue_waiting'), 'gauge');
    assert.equal(m2.value('purser_audit_dropped_total'), 0);
  });
});
