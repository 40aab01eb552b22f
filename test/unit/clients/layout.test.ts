// The client tools (clients/) stay installable without the server: their sources import node
// built-ins and each other only, their package declares no dependency, and the server's code
// does not import them either.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../../helpers/paths.js';

const clientsSrc = join(repoRoot, 'clients', 'src');
const builtins = new Set(builtinModules);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Every module specifier a file names: static and dynamic imports, `export … from`, `import type`. */
function imports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** Why `spec` (imported by `file`) is not allowed in clients/src, or undefined. */
function clientImportProblem(file: string, spec: string): string | undefined {
  if (spec.startsWith('node:')) return builtins.has(spec.slice(5)) ? undefined : 'not a node built-in';
  if (!spec.startsWith('.')) return 'a package: the client tools have no dependencies';
  const target = resolve(dirname(file), spec);
  return target.startsWith(clientsSrc + sep) ? undefined : 'outside clients/src';
}

test('clients/src imports node: built-ins and clients/src only', () => {
  const files = tsFiles(clientsSrc);
  assert.ok(files.length >= 15, `split by concept: ${files.length} files`);
  const bad: string[] = [];
  for (const f of files) {
    for (const spec of imports(f)) {
      const why = clientImportProblem(f, spec);
      if (why) bad.push(`${relative(repoRoot, f)} imports ${spec}: ${why}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the import rule itself: refuses packages, server code and bare built-in names', () => {
  const f = join(clientsSrc, 'action', 'main.ts');
  assert.equal(clientImportProblem(f, '../jwt.js'), undefined);
  assert.equal(clientImportProblem(f, 'node:fs'), undefined);
  assert.match(clientImportProblem(f, '../../../src/errors.js')!, /outside clients\/src/);
  assert.match(clientImportProblem(f, 'jose')!, /a package/);
  assert.match(clientImportProblem(f, 'fs')!, /a package/);
  assert.match(clientImportProblem(f, 'node:nope')!, /not a node built-in/);
});

test('clients/package.json declares no dependency; the server does not import the clients', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'clients', 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  for (const k of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies']) {
    assert.equal(pkg[k], undefined, `clients/package.json ${k}`);
  }
  assert.deepEqual(pkg.bin, {
    'docker-credential-purser': 'dist/docker-credential-purser.mjs',
    'purser-credential-provider': 'dist/purser-credential-provider.mjs',
  });
  const upward: string[] = [];
  for (const f of tsFiles(join(repoRoot, 'src'))) {
    for (const spec of imports(f)) {
      if (spec.startsWith('.') && resolve(dirname(f), spec).startsWith(join(repoRoot, 'clients') + sep))
        upward.push(`${relative(repoRoot, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(upward, []);
});
