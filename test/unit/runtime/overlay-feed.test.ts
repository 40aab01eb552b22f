// The overlays' latest list for the process that reloads (a single process or a primary): a
// change before anyone listens is reported once a listener is set, a list sent while the
// source starts wins over the one it started with, and nothing is reported after close.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigOverlay, ConfigOverlaySource } from '../../../src/runtime/config-overlays.js';
import { OverlayFeed } from '../../../src/runtime/overlay-feed.js';

const overlay = (name: string): ConfigOverlay => ({ kind: 'secret', name, yaml: 'users: {}\n' });

/** A source whose changes the test sends; `early` is sent before start resolves. */
function source(first: ConfigOverlay[], early?: ConfigOverlay[]) {
  let onChange: ((list: readonly ConfigOverlay[]) => void) | undefined;
  let closed = 0;
  const s: ConfigOverlaySource = {
    start: async (cb) => {
      onChange = cb;
      if (early) cb(early);
      return first;
    },
    close: async () => {
      closed++;
    },
  };
  return { s, send: (list: ConfigOverlay[]) => onChange?.(list), closed: () => closed };
}

describe('OverlayFeed', () => {
  test('starts with the first complete list; a change updates it and calls the listener', async () => {
    const src = source([overlay('ns/a')]);
    const feed = await OverlayFeed.start(src.s);
    assert.deepEqual(
      feed.list.map((o) => o.name),
      ['ns/a'],
    );
    let calls = 0;
    feed.onChange(() => calls++);
    assert.equal(calls, 0, 'nothing missed, nothing reported');
    src.send([overlay('ns/a'), overlay('ns/b')]);
    assert.equal(calls, 1);
    assert.deepEqual(
      feed.list.map((o) => o.name),
      ['ns/a', 'ns/b'],
    );
  });

  test('a change before a listener is set is reported once, when it is set', async () => {
    const src = source([overlay('ns/a')]);
    const feed = await OverlayFeed.start(src.s);
    src.send([]);
    src.send([overlay('ns/c')]);
    let calls = 0;
    feed.onChange(() => calls++);
    assert.equal(calls, 1);
    assert.deepEqual(
      feed.list.map((o) => o.name),
      ['ns/c'],
    );
  });

  test('a list sent while the source starts is newer than the one start resolves with', async () => {
    const src = source([overlay('ns/old')], [overlay('ns/new')]);
    const feed = await OverlayFeed.start(src.s);
    assert.deepEqual(
      feed.list.map((o) => o.name),
      ['ns/new'],
    );
  });

  test('close stops the source once; later changes are ignored', async () => {
    const src = source([overlay('ns/a')]);
    const feed = await OverlayFeed.start(src.s);
    let calls = 0;
    feed.onChange(() => calls++);
    await feed.close();
    await feed.close();
    assert.equal(src.closed(), 1);
    src.send([]);
    assert.equal(calls, 0);
    assert.equal(feed.list.length, 1);
  });
});
