#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript under dist/ (built by `npm ci` via `prepare`).
// The tick-map pin goes first, before the CLI's modules load (src/runtime/tick-map-pin.ts).
import { pinTickObjectMap } from '../dist/src/runtime/tick-map-pin.js';

pinTickObjectMap();
const { main } = await import('../dist/src/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: keep-alive sockets to identity providers must not hold a finished command open.
    process.exit(typeof code === 'number' ? code : 0);
  },
  (err) => {
    process.stderr.write(`purser: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
