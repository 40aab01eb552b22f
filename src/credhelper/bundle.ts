// Writes the GitHub Action's self-contained files from the compiled credential helper:
//   dist/src/credhelper/main.js   -> actions/login/dist/credhelper.mjs
//   dist/src/credhelper/action.js -> actions/login/dist/index.mjs (importing ./credhelper.mjs)
// They are the compiled modules unchanged but for a header and that one import, so the action
// runs with node alone (no npm install). The files are checked in; a unit test fails when they
// differ from what this produces, so after changing src/credhelper run:
//   npx tsc -p . && node dist/src/credhelper/bundle.js          (write)
//   node dist/src/credhelper/bundle.js --check                  (exit 1 when stale)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isEntryPoint } from './main.js';

/**
 * The runner runtime the bundle is built for, as actions/login/action.yml declares it
 * (`runs.using`). The bundle is tsconfig's ES2022 output using node built-ins only, which
 * node24 runs as is; GitHub's runners no longer offer node20 to JavaScript actions.
 */
export const ACTION_RUNTIME = 'node24';

/** actions/login/dist of the repository this module was compiled in. */
export const OUT_DIR: string = fileURLToPath(new URL('../../../actions/login/dist/', import.meta.url));

const HEADER = (from: string): string =>
  `// GENERATED from ${from} by \`node dist/src/credhelper/bundle.js\`: do not edit.\n` +
  `// Node built-ins only: the action runs without npm install, on the runner's ${ACTION_RUNTIME}.\n`;

function compiled(name: string): string {
  const js = readFileSync(fileURLToPath(new URL(`./${name}`, import.meta.url)), 'utf8');
  return js.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}

/** Checks that a module imports only node built-ins and the allowed relative modules. */
function checkImports(js: string, file: string, allowed: string[]): void {
  for (const m of js.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1]!;
    if (!spec.startsWith('node:') && !allowed.includes(spec)) {
      throw new Error(`${file} imports ${spec}: the action may use node built-ins only`);
    }
  }
  if (/\bimport\s*\(/.test(js)) throw new Error(`${file} has a dynamic import`);
}

/** File name (in OUT_DIR) -> content. */
export function bundle(): Map<string, string> {
  const helper = compiled('main.js');
  checkImports(helper, 'src/credhelper/main.ts', []);
  let action = compiled('action.js');
  checkImports(action, 'src/credhelper/action.ts', ['./main.js']);
  action = action.replace(/(from\s+)(['"])\.\/main\.js\2/g, '$1$2./credhelper.mjs$2');
  return new Map([
    ['credhelper.mjs', HEADER('src/credhelper/main.ts') + helper],
    ['index.mjs', HEADER('src/credhelper/action.ts') + action],
  ]);
}

/** The files in OUT_DIR that are missing or differ from bundle(). */
export function staleFiles(dir: string = OUT_DIR): string[] {
  const stale: string[] = [];
  for (const [name, text] of bundle()) {
    let have: string | undefined;
    try {
      have = readFileSync(join(dir, name), 'utf8');
    } catch {
      have = undefined;
    }
    if (have !== text) stale.push(join(dir, name));
  }
  return stale;
}

if (isEntryPoint(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length > 0) {
      process.stderr.write(
        `stale: ${stale.join(', ')}; run: npx tsc -p . && node dist/src/credhelper/bundle.js\n`,
      );
      process.exit(1);
    }
  } else {
    mkdirSync(OUT_DIR, { recursive: true });
    for (const [name, text] of bundle()) writeFileSync(join(OUT_DIR, name), text);
    process.stdout.write(`wrote ${[...bundle().keys()].map((n) => join(OUT_DIR, n)).join(', ')}\n`);
  }
}
