#!/usr/bin/env node
// Thin launcher: the docker credential helper is compiled TypeScript under dist/ (src/credhelper).
import { main } from '../dist/src/credhelper/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: a keep-alive socket to the ID token endpoint must not hold a finished helper open.
    process.exit(code);
  },
  (err) => {
    process.stderr.write(`docker-credential-purser: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
