// The README's architecture section, enforced: every import under src/ points down the data
// path (to its own folder or a folder listed before it), and folders form no cycle.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '..', '..', '..', 'src');

/** Lowest first: a folder may import only from itself and the folders before it. */
export const LAYERS = [
  'core',
  'util',
  'protocol',
  'expr',
  'config',
  'token',
  'state',
  'authn',
  'authz',
  'compile',
  'http',
  'audit',
  'server',
  'proxy',
  'runtime',
  'library',
  'cli',
] as const;

/** Client tools run on machines without the server: they may use only these. */
const CLIENT_ALLOWED = new Set(['clients', 'core', 'util', 'protocol']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function folderOf(file: string): string {
  const rel = relative(root, file).split(sep);
  return rel.length === 1 ? '.' : rel[0]!;
}

/** The whole folder path (authn/oidc), for cycles inside a layer too. */
function dirOf(file: string): string {
  return relative(root, dirname(file)) || '.';
}

interface Edge {
  from: string;
  to: string;
  fromDir: string;
  toDir: string;
  file: string;
  spec: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  const re = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const file of files(root)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(re)) {
      const target = resolve(dirname(file), m[1]!);
      out.push({
        from: folderOf(file),
        to: folderOf(target),
        fromDir: dirOf(file),
        toDir: dirOf(target),
        file: relative(root, file),
        spec: m[1]!,
      });
    }
  }
  return out;
}

test('every folder under src/ is in the layer list (or is clients/)', () => {
  const folders = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory());
  const unknown = folders.filter((f) => f !== 'clients' && !(LAYERS as readonly string[]).includes(f));
  assert.deepEqual(unknown, [], 'add new folders to LAYERS (and to the README architecture section)');
});

test('imports point down the data path', () => {
  const rank = new Map<string, number>(LAYERS.map((l, i) => [l, i]));
  const upward: string[] = [];
  for (const e of edges()) {
    if (e.from === e.to || e.from === '.') continue; // index.ts re-exports everything
    if (e.from === 'clients' || e.to === 'clients') {
      if (e.from === 'clients' && !CLIENT_ALLOWED.has(e.to))
        upward.push(`${e.file} → ${e.spec} (clients/ uses only core, util, protocol)`);
      if (e.to === 'clients' && e.from !== 'clients')
        upward.push(`${e.file} → ${e.spec} (the server does not import client tools)`);
      continue;
    }
    const a = rank.get(e.from);
    const b = rank.get(e.to);
    if (a === undefined || b === undefined || b > a)
      upward.push(`${e.file} → ${e.spec} (${e.from} above ${e.to}?)`);
  }
  assert.deepEqual(upward, []);
});

test('no cycle between folders, subfolders included (authn ↔ authn/oidc)', () => {
  const graph = new Map<string, Set<string>>();
  for (const e of edges()) {
    if (e.fromDir === e.toDir || e.fromDir === '.') continue;
    if (!graph.has(e.fromDir)) graph.set(e.fromDir, new Set());
    graph.get(e.fromDir)!.add(e.toDir);
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const cycles: string[] = [];
  const visit = (n: string) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') {
      cycles.push([...path.slice(path.indexOf(n)), n].join(' → '));
      return;
    }
    state.set(n, 'open');
    path.push(n);
    for (const m of graph.get(n) ?? []) visit(m);
    path.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) visit(n);
  assert.deepEqual(cycles, []);
});
