import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FairQueue } from '../../../src/util/fair-queue.js';
import { purserError } from '../support.js';

/** A task that finishes when the test says so. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => {
    open = r;
  });
  return { p, open };
}

describe('FairQueue', () => {
  test('at most `limit` at once; waiters are served round-robin across keys', async () => {
    const q = new FairQueue(1);
    const order: string[] = [];
    const first = gate();
    const running = q.run('flood', () => first.p);
    const done: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) done.push(q.run('flood', async () => void order.push(`flood${i}`)));
    done.push(q.run('other', async () => void order.push('other')));
    assert.equal(q.active, 1);
    assert.equal(q.waiting, 4);
    first.open();
    await running;
    await Promise.all(done);
    assert.deepEqual(
      order,
      ['flood0', 'other', 'flood1', 'flood2'],
      'the other key is not behind the whole flood',
    );
    assert.equal(q.active, 0);
    assert.equal(q.waiting, 0);
  });

  test('a failing task frees its slot', async () => {
    const q = new FairQueue(1);
    await assert.rejects(
      q.run('a', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await q.run('a', async () => 7), 7);
  });

  test('bounded: past maxWaiting, new tasks are refused with UNAVAILABLE', async () => {
    const q = new FairQueue(1, 2);
    const g = gate();
    const running = q.run('a', () => g.p);
    const waiting = [q.run('a', async () => 1), q.run('b', async () => 2)];
    await assert.rejects(
      q.run('c', async () => 3),
      purserError('UNAVAILABLE', 'too many password checks'),
    );
    g.open();
    await running;
    assert.deepEqual(await Promise.all(waiting), [1, 2]);
  });
});
