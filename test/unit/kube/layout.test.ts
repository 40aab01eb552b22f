// @purser/kube stays apart from the token server: @kubernetes/client-node is ITS dependency,
// never the server's; it imports nothing of src/ (it is published on its own); the server
// reaches it only through the dynamic import of `purser kube-controller`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../../helpers/paths.js';

const kubeSrc = join(repoRoot, 'kube', 'src');
const serverSrc = join(repoRoot, 'src');
const builtins = new Set(builtinModules);
const pkg = (p: string) => JSON.parse(readFileSync(join(repoRoot, p), 'utf8'));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

const imports = (file: string): string[] =>
  ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);

test("the server's package.json does not depend on @kubernetes/client-node; @purser/kube does", () => {
  const root = pkg('package.json');
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'devDependencies'])
    assert.ok(
      !root[field]?.['@kubernetes/client-node'],
      `package.json ${field} names @kubernetes/client-node`,
    );
  assert.ok(!root.dependencies?.['@purser/kube'], 'the server does not depend on the controller');
  assert.ok(root.workspaces.includes('kube'), 'kube/ is a workspace (npm ci installs and links it)');
  const kube = pkg('kube/package.json');
  assert.equal(kube.name, '@purser/kube');
  assert.ok(kube.dependencies['@kubernetes/client-node']);
});

test('kube/src imports node built-ins, its declared dependencies and kube/src only', () => {
  const deps = new Set(Object.keys(pkg('kube/package.json').dependencies));
  const bad: string[] = [];
  const files = tsFiles(kubeSrc);
  assert.ok(files.length >= 10, `split by concept: ${files.length} files`);
  for (const f of files)
    for (const spec of imports(f)) {
      const ok = spec.startsWith('node:')
        ? builtins.has(spec.slice(5))
        : spec.startsWith('.')
          ? resolve(dirname(f), spec).startsWith(kubeSrc + sep)
          : deps.has(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      if (!ok) bad.push(`${relative(repoRoot, f)} imports ${spec}`);
    }
  assert.deepEqual(bad, []);
});

test('src/ never imports client-node or the controller statically', () => {
  const bad: string[] = [];
  for (const f of tsFiles(serverSrc))
    for (const spec of imports(f)) {
      if (spec.startsWith('@kubernetes/') || spec.startsWith('@purser/kube'))
        bad.push(`${relative(repoRoot, f)} imports ${spec}`);
      if (spec.startsWith('.') && resolve(dirname(f), spec).startsWith(join(repoRoot, 'kube') + sep))
        bad.push(`${relative(repoRoot, f)} imports ${spec}`);
    }
  assert.deepEqual(bad, []);
});
