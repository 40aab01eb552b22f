// docs/errors.md is tied to the code (fastify's way): every code of the registry is in its
// table with the same status, OAuth error, challenge and summary, no other code is, and
// every message a caller can see, as written in src/, is documented.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, type PurserErrorCode } from '../../src/core/errors.js';

const root = join(import.meta.dirname, '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');

interface Row {
  status: number;
  oauth: string;
  headers: string;
  when: string;
}

/** The rows of the table under `## Codes`: | `CODE` | status | `oauth` | headers | when | … */
function codeRows(): Map<string, Row> {
  const section = doc.split(/^## Codes$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'docs/errors.md has a "## Codes" section');
  const rows = new Map<string, Row>();
  for (const line of section.split('\n')) {
    const m = /^\| `([A-Z_]+)` \| (\d{3}) \| `([a-z_]+)` \|([^|]*)\|([^|]*)\|/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]!), `${m[1]} is documented twice`);
    rows.set(m[1]!, { status: Number(m[2]), oauth: m[3]!, headers: m[4]!, when: m[5]! });
  }
  return rows;
}

test('every registry code is in docs/errors.md with its status, OAuth error, challenge and summary', () => {
  const rows = codeRows();
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    const row = rows.get(code);
    assert.ok(row, `${code} is missing from docs/errors.md's table`);
    assert.equal(row.status, info.status, `${code}: status`);
    assert.equal(row.oauth, info.oauth, `${code}: OAuth error`);
    assert.equal(
      /WWW-Authenticate: Basic/.test(row.headers),
      info.challenge === 'basic',
      `${code}: challenge`,
    );
    assert.ok(row.when.includes(info.summary), `${code}: the "when" cell must start from "${info.summary}"`);
  }
  for (const code of rows.keys())
    assert.ok(code in ERROR_CODES, `docs/errors.md documents ${code}, which no longer exists`);
});

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const THROW_RE =
  /new (PurserError|ChallengeError|Denied)\(\s*(?:'([A-Z_]+)',\s*)?(`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*')/g;

/** A message as written in the source, as a pattern: each `${…}` stands for any text. */
function messagePattern(literal: string): RegExp {
  const body = literal.slice(1, -1);
  const parts = literal.startsWith('`') ? body.split(/\$\{[^}]*\}/) : [body];
  const escaped = parts.map((p) => p.replace(/\\'/g, "'").replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(escaped.join('[^\\n|]+?'));
}

test('every message thrown in src/ is documented in docs/errors.md', () => {
  const missing: string[] = [];
  let seen = 0;
  for (const file of sources(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(THROW_RE)) {
      const code = (m[2] ??
        (m[1] === 'Denied' ? 'DENIED' : m[1] === 'ChallengeError' ? 'UNAUTHORIZED' : undefined)) as
        | PurserErrorCode
        | undefined;
      // `new PurserError(code, message)` with a computed message: nothing literal to check.
      if (code === undefined) continue;
      seen++;
      if (!messagePattern(m[3]!).test(doc)) missing.push(`${file.slice(root.length + 1)}: ${code} ${m[3]}`);
    }
  }
  assert.ok(seen > 30, `only ${seen} messages found: the scan is broken`);
  assert.deepEqual(missing, [], 'messages missing from docs/errors.md');
});
