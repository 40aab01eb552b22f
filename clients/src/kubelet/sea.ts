// The single executable's main script (bundled by scripts/build-credential-provider.js): in a
// Node SEA, process.argv is [executable, executable, ...args].
import { runAsProcess } from './main.js';

runAsProcess(process.argv.slice(2));
