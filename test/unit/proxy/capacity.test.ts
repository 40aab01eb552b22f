// UpstreamCapacity: reads and uploads on separate pools, uploads capped per account (issue 8 hole 4).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { UpstreamCapacity } from '../../../src/proxy/capacity.js';

describe('UpstreamCapacity', () => {
  const cap = new UpstreamCapacity('http://127.0.0.1:9', {
    readConnections: 2,
    uploadConnections: 2,
    uploadsPerAccount: 2,
  });
  after(() => cap.close());

  test('uploads and reads go through different pools; DELETE is a read', () => {
    for (const m of ['POST', 'PUT', 'PATCH']) assert.equal(cap.poolFor(m), cap.poolFor('POST'), m);
    for (const m of ['GET', 'HEAD', 'DELETE']) assert.equal(cap.poolFor(m), cap.poolFor('GET'), m);
    assert.notEqual(cap.poolFor('PUT'), cap.poolFor('GET'));
  });

  test("an account at its cap is refused; another account and the account's reads are not", () => {
    const a1 = cap.admit('PATCH', 'alice');
    const a2 = cap.admit('PUT', 'alice');
    assert.ok(a1 && a2);
    assert.equal(cap.admit('POST', 'alice'), undefined, 'third upload of alice');
    assert.ok(cap.admit('GET', 'alice'), 'reads are not capped');
    const c = cap.admit('PATCH', 'carol');
    assert.ok(c, "carol's upload");
    assert.equal(cap.uploadsInFlight, 3);
    a1();
    a1(); // a second release is a no-op, not a free slot
    assert.equal(cap.uploadsInFlight, 2);
    const a3 = cap.admit('POST', 'alice');
    assert.ok(a3, 'a released slot is free again');
    assert.equal(cap.admit('POST', 'alice'), undefined, 'the double release freed nothing');
    for (const r of [a2, a3, c]) r!();
    assert.equal(cap.uploadsInFlight, 0);
  });

  test('long account names are counted apart (hashed keys), not merged', () => {
    const x = `${'a'.repeat(1000)}x`;
    const y = `${'a'.repeat(1000)}y`;
    const held = [cap.admit('PUT', x), cap.admit('PUT', x)];
    assert.equal(cap.admit('PUT', x), undefined);
    const other = cap.admit('PUT', y);
    assert.ok(other);
    for (const r of [...held, other]) r!();
    assert.equal(cap.uploadsInFlight, 0);
  });

  test('property: in flight per account never exceeds the cap, and everything released is free', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ account: fc.constantFrom('a', 'b', ''), release: fc.boolean() }), {
          maxLength: 60,
        }),
        (ops) => {
          const held = new Map<string, (() => void)[]>();
          for (const op of ops) {
            const list = held.get(op.account) ?? [];
            if (op.release && list.length > 0) list.shift()!();
            else {
              const r = cap.admit('PATCH', op.account);
              assert.equal(r === undefined, list.length >= 2, `account ${op.account} at ${list.length}`);
              if (r) list.push(r);
            }
            held.set(op.account, list);
          }
          const total = [...held.values()].reduce((n, l) => n + l.length, 0);
          assert.equal(cap.uploadsInFlight, total);
          for (const l of held.values()) for (const r of l) r();
          assert.equal(cap.uploadsInFlight, 0);
        },
      ),
    );
  });
});
