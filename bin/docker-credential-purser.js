#!/usr/bin/env node
// Thin launcher for a clone or the server package: the helper compiled by `npm run build` from
// clients/src. The dependency-free install is the @purser/clients package (clients/), whose bin
// is the esbuild bundle of the same code.
import { main } from '../dist/clients/src/credhelper/main.js';

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
