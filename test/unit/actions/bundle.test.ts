// The action's checked-in files (actions/login/dist) must be exactly what bundle.ts makes from
// the compiled src/credhelper: fails when someone changes the sources and forgets to regenerate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundle, OUT_DIR, staleFiles } from '../../../src/credhelper/bundle.js';
import { repoRoot } from '../../helpers/paths.js';

test('actions/login/dist is up to date (else: npx tsc -p . && node dist/src/credhelper/bundle.js)', () => {
  assert.equal(OUT_DIR, join(repoRoot, 'actions', 'login', 'dist/'));
  assert.deepEqual(staleFiles(), []);
});

test('the bundled files import node built-ins and each other only', () => {
  const files = bundle();
  assert.deepEqual([...files.keys()].sort(), ['credhelper.mjs', 'index.mjs']);
  for (const [name, text] of files) {
    const specs = [...text.matchAll(/^\s*import\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    assert.ok(specs.length > 0, name);
    for (const s of specs)
      assert.ok(s.startsWith('node:') || s === './credhelper.mjs', `${name} imports ${s}`);
    assert.ok(text.startsWith('// GENERATED from src/credhelper/'), name);
  }
  const checkedIn = readFileSync(join(repoRoot, 'actions', 'login', 'dist', 'index.mjs'), 'utf8');
  assert.match(checkedIn, /from '\.\/credhelper\.mjs'/);
});
