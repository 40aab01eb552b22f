// The V8 quirk src/runtime/tick-map-pin.ts guards against, on its own: nextTick entries built
// after a full GC that found none alive take V8's slow path for good. A child process queues
// a few nextTicks, forces two full GCs with the queue empty (as an idle moment after start-up
// can), then times a million nextTicks (in batches of 1,000); a second child pins one entry
// first.
//
//   node bench/nexttick-maps.js          # ns per nextTick, without and with the pin

import { executionAsyncResource } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = process.argv[2];
if (child) {
  let pinned;
  if (child === 'pinned')
    process.nextTick(() => {
      pinned = executionAsyncResource();
    });
  const noop = () => {};
  const batch = (n) =>
    new Promise((resolve) => {
      for (let i = 0; i < n - 1; i++) process.nextTick(noop);
      process.nextTick(resolve);
    });
  const time = async () => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) await batch(1000);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  // As at a server's start: a few entries, then full GCs while none is queued.
  for (let i = 0; i < 50; i++) process.nextTick(noop);
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc();
  globalThis.gc();
  await time(); // warm-up and optimisation
  const ns = await time();
  process.stdout.write(JSON.stringify({ ns, pinned: pinned !== undefined }));
} else {
  for (const mode of ['plain', 'pinned']) {
    const r = JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), mode], {
        encoding: 'utf8',
      }),
    );
    console.log(`${mode.padEnd(6)}: ${r.ns.toFixed(0)} ns per nextTick`);
  }
}
