// Locations inside the repository, independent of where the compiled test runs from.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file compiles to dist/test/helpers/paths.js. */
export const repoRoot: string = fileURLToPath(new URL('../../..', import.meta.url));

/** The CLI launcher. */
export const purserBin: string = join(repoRoot, 'bin', 'purser.js');
