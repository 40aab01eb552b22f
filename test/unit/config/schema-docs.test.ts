import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parseDocument } from 'yaml';
import { OidcProviders } from '../../../src/authn/oidc/authenticator.js';
import type { OidcProvider } from '../../../src/authn/oidc/provider.js';
import { compileRules } from '../../../src/authz/acl.js';
import { compileTagRules } from '../../../src/authz/tag-policy.js';
import { buildConfig } from '../../../src/config/load.js';
import { compileCel } from '../../../src/expr/cel.js';

// Compiled to dist/test/unit/config/: the repository root is four levels up.
const ROOT = join(import.meta.dirname, '..', '..', '..', '..');

interface Generator {
  generate(): Record<string, string>;
}

async function generator(): Promise<Generator> {
  // A plain JS script outside the TypeScript project: imported by URL so tsc leaves it alone.
  return (await import(pathToFileURL(join(ROOT, 'scripts', 'gen-schema.js')).href)) as Generator;
}

describe('generated schema and configuration reference', () => {
  test('schema/purser.schema.json and docs/configuration.md match the schema', async () => {
    const { generate } = await generator();
    for (const [rel, expected] of Object.entries(generate())) {
      const file = join(ROOT, rel);
      const actual = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      assert.ok(actual !== undefined, `${rel} is missing: run \`npm run schema\``);
      assert.ok(
        actual === expected,
        `${rel} is stale (the config schema changed): run \`npm run schema\` and commit it`,
      );
    }
  });

  test('the JSON Schema is a draft 2020-12 document with an id and no unknown keys allowed', async () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema', 'purser.schema.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(typeof schema.$id, 'string');
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.required, ['token', 'acl']);
  });
});

/** Markdown files whose ```yaml blocks may be Purser configurations. */
function markdownFiles(): string[] {
  const out = [join(ROOT, 'README.md')];
  (function walk(dir: string) {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.md')) out.push(p);
    }
  })(join(ROOT, 'docs'));
  return out.filter((f) => existsSync(f));
}

interface Example {
  file: string;
  line: number;
  text: string;
}

/** Fenced ```yaml blocks whose first line is `# purser-config`. */
function examples(): Example[] {
  const out: Example[] = [];
  for (const file of markdownFiles()) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*```ya?ml\s*$/.test(lines[i]!)) continue;
      const indent = lines[i]!.match(/^\s*/)![0];
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && lines[j]!.trim() !== '```'; j++) body.push(lines[j]!.slice(indent.length));
      if (body[0]?.trim() === '# purser-config')
        out.push({ file: relative(ROOT, file), line: i + 2, text: body.join('\n') });
      i = j;
    }
  }
  return out;
}

/**
 * Validates an example as far as can be done without its files: the schema and the loader's
 * checks (buildConfig reads no key files), then every ACL pattern and CEL expression the way
 * the server compiles them at start-up, and the providers' issuer/audience ambiguity check.
 * `${env:NAME}` gets a stand-in value; `${file:PATH}` is replaced by a stand-in string (both
 * long enough for a webhook secret).
 */
function validate(ex: Example): void {
  const doc = parseDocument(ex.text, { uniqueKeys: true, prettyErrors: false, merge: false });
  if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors[0]!.message}`);
  const raw = JSON.stringify(doc.toJS());
  for (const m of raw.matchAll(/\$\{env:([^}]*)\}/g))
    process.env[m[1]!] ??= 'example-value-as-long-as-a-webhook-secret';
  const data: unknown = JSON.parse(
    raw.replace(/\$\{file:[^}]*\}/g, 'example-file-content-as-long-as-a-webhook-secret'),
  );
  const config = buildConfig(data, ex.file, '/nonexistent');
  const condition = (source: string) => {
    compileCel(source, ['identity', 'claims', 'request'], 'bool');
    return { source, evaluate: () => false };
  };
  compileRules(config.acl, ex.file, condition);
  compileTagRules(config.proxy?.tags ?? [], ex.file, condition);
  for (const p of config.providers) {
    compileCel(p.account, ['claims'], 'string');
    if (p.when) compileCel(p.when, ['claims'], 'bool');
    for (const expr of Object.values(p.labels)) compileCel(expr, ['claims'], 'string');
  }
  new OidcProviders(
    config.providers.map((p) => ({ name: p.name, config: p }) as unknown as OidcProvider),
    ex.file,
  );
}

describe('configuration examples in README.md and docs/', () => {
  const all = examples();

  test('there are examples to check', () => {
    assert.ok(all.length >= 5, `found only ${all.length} \`# purser-config\` examples`);
  });

  for (const ex of all) {
    test(`${ex.file}:${ex.line} is a valid configuration`, () => {
      try {
        validate(ex);
      } catch (e) {
        assert.fail(`${ex.file}:${ex.line}: ${(e as Error).message}`);
      }
    });
  }
});
