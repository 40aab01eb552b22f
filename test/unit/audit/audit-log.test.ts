import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { AuditLog } from '../../../src/audit/audit-log.js';
import { createLogger, createPurser, generateSigningKeyPair } from '../../../src/index.js';
import { basic, claimsOf, ownNamespace, serve, userTable } from '../library/support.js';

const base = {
  ip: '10.0.0.1',
  account: 'ci',
  provider: 'gha',
  requested: ['repository:team/app:pull'],
  granted: ['repository:team/app:pull'],
  rule: [2],
  jti: 'j1',
  outcome: 'issued' as const,
  status: 200,
};

function collect(): { out: PassThrough; lines: () => Record<string, unknown>[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return {
    out,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('only allow-listed claims are copied; kubernetes.io is reduced to namespace and service account', () => {
  const { out, lines } = collect();
  const log = new AuditLog(out);
  log.record(
    {
      ...base,
      identity: {
        account: 'ci',
        provider: 'gha',
        labels: {},
        claims: {
          sub: 'repo:acme/app:ref:refs/heads/main',
          repository: 'acme/app',
          email: 'someone@example.com',
          'kubernetes.io': {
            namespace: 'ci',
            serviceaccount: { name: 'builder', uid: 'u' },
            pod: { name: 'p' },
          },
        },
      },
    },
    new Date('2026-01-02T03:04:05.000Z'),
  );
  const [e] = lines();
  assert.equal(e!.time, '2026-01-02T03:04:05.000Z');
  assert.deepEqual(e!.claims, {
    sub: 'repo:acme/app:ref:refs/heads/main',
    repository: 'acme/app',
    namespace: 'ci',
    serviceaccount: 'builder',
  });
});

test('values are truncated like log lines, and long lists cut', () => {
  const { out, lines } = collect();
  new AuditLog(out).record({
    ...base,
    account: 'a'.repeat(1000),
    requested: Array.from({ length: 40 }, (_, i) => `repository:r${i}:pull`),
  });
  const [e] = lines();
  assert.ok((e!.account as string).length < 300);
  assert.match(e!.account as string, /…\(\+744 chars\)$/);
  assert.equal((e!.requested as string[]).length, 17);
});

test('a sink that cannot keep up: events are dropped and counted, never queued without bound', () => {
  // A sink that never finishes a write: everything after the first stays buffered.
  const stuck = new Writable({ write: () => {}, highWaterMark: 16 });
  let drops = 0;
  const log = new AuditLog(stuck, { maxPendingBytes: 2048, onDrop: () => drops++ });
  for (let i = 0; i < 100; i++) log.record(base);
  assert.ok(stuck.writableLength <= 2048 + 1024, String(stuck.writableLength));
  assert.ok(drops > 50, String(drops));
  assert.equal(log.dropped, drops);
});

test('a sink that fails does not throw into the server', async () => {
  const broken = new Writable({ write: (_c, _e, cb) => cb(new Error('disk full')) });
  const log = new AuditLog(broken);
  log.record(base);
  await new Promise((r) => setImmediate(r));
  log.record(base);
  assert.ok(log.dropped >= 1);
});

test('createPurser: a given AuditLog receives the endpoint decisions of a library instance', async () => {
  const { out, lines } = collect();
  const purser = await createPurser({
    issuer: 'lib-audit',
    services: ['registry.test'],
    signingKeys: [generateSigningKeyPair('ES256').privateKey],
    authenticators: [userTable({ alice: 'alice-pw' })],
    authorizer: ownNamespace,
    logger: createLogger({ write: () => {} }),
    audit: new AuditLog(out),
  });
  const app = await serve(purser.handler);
  try {
    const ok = await fetch(`${app.origin}/token?service=registry.test&scope=repository:alice/x:pull`, {
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    const { token } = (await ok.json()) as { token: string };
    const bad = await fetch(`${app.origin}/token?service=registry.test`, {
      headers: { authorization: basic('alice', 'nope') },
    });
    assert.equal(bad.status, 401);
    await new Promise((r) => setImmediate(r));
    const [issued, refused] = lines();
    assert.equal(issued!.outcome, 'issued');
    assert.equal(issued!.account, 'alice');
    assert.equal(issued!.provider, 'app-users');
    assert.deepEqual(issued!.granted, ['repository:alice/x:pull']);
    assert.deepEqual(issued!.rule, [null]);
    assert.equal(issued!.jti, claimsOf(token).jti);
    assert.equal(refused!.outcome, 'refused');
    assert.equal(refused!.status, 401);
  } finally {
    await app.close();
    await purser.close();
  }
});
