// The provider's bundled entry: the single executable's main script (CommonJS, built by
// scripts/build-credential-provider.js) and clients/dist/purser-credential-provider.mjs. Both
// see the arguments from argv[2] on (in a Node SEA, argv is [executable, executable, ...args]).
import { runAsProcess } from './main.js';

runAsProcess(process.argv.slice(2));
