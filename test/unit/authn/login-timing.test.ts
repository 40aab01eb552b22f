import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { before, describe, test } from 'node:test';
import { bcryptVerify } from '../../../src/authn/bcrypt.js';
import { StaticUsers, type StoredCredential } from '../../../src/authn/static-users.js';
import { Acl, compileRules } from '../../../src/authz/acl.js';
import type { RuleData } from '../../../src/config/schema.js';
import { Secret } from '../../../src/core/secret.js';
import type { TokenRequest } from '../../../src/protocol/token-request.js';
import { TokenService } from '../../../src/server/token-service.js';
import { KeyRing } from '../../../src/token/keyring.js';
import { loadSigningKey, type SigningKey } from '../../../src/token/keys.js';
import { decodeJwt, makeKeys, purserError } from '../support.js';

// Precomputed cost-10 hashes (generating one costs what checking one does).
const H10 = '$2b$10$uckWh10NgqnNAC680j.UROa.pLnXcr9ui/vmgQddfMC5Otk6rEebS'; // "battery staple"

const pw = (username: string, password: string) => ({ username, password: new Secret(password) });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f().catch(() => {});
  return performance.now() - t;
}

function ringOf(...keys: SigningKey[]): KeyRing {
  return new KeyRing(keys, { issuer: 'purser-test', keyId: 'thumbprint', expiresIn: 300 });
}

function serviceWith(ring: KeyRing, users: Map<string, StoredCredential>, max = 1000): TokenService {
  const staticUsers = new StaticUsers(users, 60, { refreshLifetime: 3600 });
  return new TokenService({
    issuer: 'purser-test',
    services: ['registry.test'],
    keyring: ring,
    authenticators: [staticUsers],
    authorizer: new Acl(compileRules([{ match: {}, actions: ['pull'] } as RuleData], undefined)),
    anonymous: true,
    throttlePolicy: { max, windowSeconds: 60 },
    imitateCheck: () => staticUsers.imitateCheck(),
  });
}

describe('login timing (issue 8 holes 7 and 8)', () => {
  let k1: SigningKey;
  let k2: SigningKey;
  let oneBcryptMs: number;
  before(async () => {
    const a = await makeKeys();
    const b = await makeKeys();
    k1 = await loadSigningKey(a.keyPath, a.crtPath);
    k2 = await loadSigningKey(b.keyPath, b.crtPath);
    a.cleanup();
    b.cleanup();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push(await timed(() => bcryptVerify('x', H10)));
    oneBcryptMs = median(times);
  });

  test('128 parallel unknown-user guesses do not delay a real first login by more than 200 ms', async () => {
    const s = serviceWith(ringOf(k1), new Map([['alice', { hash: H10 }]]));
    // Let the timing calibration finish (it runs once, at start-up).
    await s.authenticate(pw('nobody', 'x'), '10.9.9.9').catch(() => {});
    const guesses = Array.from({ length: 128 }, (_, i) =>
      s.authenticate(pw(`guess-${i}`, 'x'), '10.6.6.6').catch(() => {}),
    );
    const t = await timed(() => s.authenticate(pw('alice', 'battery staple'), '10.1.1.1'));
    await Promise.all(guesses);
    // One bcrypt measured again now: other processes on a busy machine move it a lot.
    const bcryptMs = Math.max(oneBcryptMs, await timed(() => bcryptVerify('x', H10)));
    console.log(
      `one bcrypt ${bcryptMs.toFixed(0)} ms; first real login under 128 guesses ${t.toFixed(0)} ms`,
    );
    assert.ok(
      t < bcryptMs + 200,
      `first login took ${t.toFixed(0)} ms (one bcrypt: ${bcryptMs.toFixed(0)} ms)`,
    );
  });

  test('a wrong-password flood at a known user from one address does not starve another address', async () => {
    const s = serviceWith(
      ringOf(k1),
      new Map([
        ['alice', { hash: H10 }],
        ['bob', { hash: H10 }],
      ]),
    );
    const flood = Array.from({ length: 64 }, (_, i) =>
      s.authenticate(pw('bob', `guess-${i}`), '10.6.6.6').catch(() => {}),
    );
    const t = await timed(() => s.authenticate(pw('alice', 'battery staple'), '10.1.1.1'));
    await Promise.all(flood);
    const bcryptMs = Math.max(oneBcryptMs, await timed(() => bcryptVerify('x', H10)));
    console.log(`first real login under 64 wrong passwords for another user: ${t.toFixed(0)} ms`);
    // The fair queue serves the other address next: one in-flight bcrypt per slot, then its own.
    // Before the fix: 19 s. The margin is for CI, where other test files share both cores
    // (seen: 1,328 ms against one bcrypt of 365 ms at load average 9).
    assert.ok(
      t < 5 * bcryptMs + 500,
      `first login took ${t.toFixed(0)} ms (one bcrypt: ${bcryptMs.toFixed(0)} ms)`,
    );
  });

  test('unknown, plaintext and hashed users: wrong passwords take the same time', async () => {
    const s = serviceWith(
      ringOf(k1),
      new Map<string, StoredCredential>([
        ['hashed', { hash: H10 }],
        ['plain', { password: new Secret('builder') }],
      ]),
    );
    const t: Record<'unknown' | 'plain' | 'hashed', number[]> = { unknown: [], plain: [], hashed: [] };
    // Interleaved, so that load on the machine hits all three alike.
    for (let i = 0; i < 21; i++) {
      t.hashed.push(await timed(() => s.authenticate(pw('hashed', `w${i}`), '10.2.2.2')));
      t.plain.push(await timed(() => s.authenticate(pw('plain', `w${i}`), '10.2.2.2')));
      t.unknown.push(await timed(() => s.authenticate(pw(`ghost${i}`, `w${i}`), '10.2.2.2')));
    }
    const m = { unknown: median(t.unknown), plain: median(t.plain), hashed: median(t.hashed) };
    console.log(
      `wrong-password medians (ms): ${JSON.stringify(m, (_k, v) => (typeof v === 'number' ? Math.round(v) : v))}`,
    );
    for (const kind of ['unknown', 'plain'] as const) {
      assert.ok(
        // Before the fix: plaintext 0.2 ms against hashed 491 ms. The margin is for CI, where
        // other test files load both cores while this one measures (seen: 328 vs 202 ms).
        m[kind] > 0.5 * m.hashed - 5 && m[kind] < 2 * m.hashed + 10,
        `${kind} median ${m[kind].toFixed(1)} ms vs hashed ${m.hashed.toFixed(1)} ms`,
      );
    }
  });

  test('a refresh token fingerprint is keyed: the unkeyed SHA-256 of user and password does not match it', async () => {
    const s = serviceWith(ringOf(k1), new Map([['bob', { password: new Secret('builder') }]]));
    const out = await s.handle(req(pw('bob', 'builder')), '10.3.3.3');
    const cfp = decodeJwt(out.response.refresh_token!).payload.cfp as string;
    assert.match(cfp, /^[A-Za-z0-9_-]{22}$/);
    // What an attacker holding the token could compute offline before the fix.
    const unkeyed = createHash('sha256')
      .update('purser-credential\0')
      .update('bob')
      .update('\0')
      .update('plain:builder')
      .digest('base64url')
      .slice(0, 22);
    assert.notEqual(cfp, unkeyed);
  });

  test('the fingerprint key survives a restart and a key rotation, not the removal of the signing key', async () => {
    const users = () => new Map([['bob', { password: new Secret('builder') }]]);
    const first = serviceWith(ringOf(k1), users());
    const rt = (await first.handle(req(pw('bob', 'builder')), '10.3.3.3')).response.refresh_token!;
    const refresh = (s: TokenService) =>
      s.handle({ ...req(undefined), grant: 'refresh_token', refreshToken: new Secret(rt) }, '10.3.3.3');
    assert.equal((await refresh(serviceWith(ringOf(k1), users()))).identity.account, 'bob', 'restart');
    assert.equal(
      (await refresh(serviceWith(ringOf(k2, k1), users()))).identity.account,
      'bob',
      'new first key',
    );
    await assert.rejects(refresh(serviceWith(ringOf(k2), users())), purserError('UNAUTHORIZED'));
    const changed = new Map([['bob', { password: new Secret('builder2') }]]);
    await assert.rejects(
      refresh(serviceWith(ringOf(k1), changed)),
      purserError('UNAUTHORIZED', 'password changed'),
    );
  });
});

function req(credentials: ReturnType<typeof pw> | undefined): TokenRequest {
  return {
    grant: 'get',
    service: undefined,
    scopes: [],
    account: undefined,
    clientId: undefined,
    offline: true,
    credentials,
    refreshToken: undefined,
  };
}
