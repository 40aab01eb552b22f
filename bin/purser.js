#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript under dist/ (built by `npm ci` via `prepare`).
import { main } from '../dist/src/cli/main.js';

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
