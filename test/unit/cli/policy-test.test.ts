import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../../src/cli/main.js';
import { type KeyFiles, makeKeys, writeFile } from '../support.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', '..', 'test', 'fixtures', 'policy');

async function inproc(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (x) => {
      stdout += x;
    },
    stderr: (x) => {
      stderr += x;
    },
    stdin: async () => '',
  });
  return { code, stdout, stderr };
}

describe('purser test', () => {
  let keys: KeyFiles & { cleanup: () => void };
  let config: string;
  let cases: string;
  before(async () => {
    keys = await makeKeys();
    // The fixture names its key `token.key`, beside it: makeKeys wrote one there.
    assert.equal(basename(keys.keyPath), 'token.key');
    config = join(keys.dir, 'purser.yaml');
    cases = join(keys.dir, 'cases.yaml');
    copyFileSync(join(FIXTURES, 'purser.yaml'), config);
    copyFileSync(join(FIXTURES, 'cases.yaml'), cases);
  });
  after(() => keys.cleanup());

  test('the fixture (≥ 30 cases, every rule kind) holds: exit 0, one ok line per case', async () => {
    const r = await inproc(['test', '--config', config, cases]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0, r.stdout);
    const oks = r.stdout.split('\n').filter((l) => l.startsWith('ok    '));
    assert.ok(oks.length >= 30, `${oks.length} cases`);
    assert.match(r.stdout, new RegExp(`${oks.length} passed, 0 failed`));
  });

  test('a failing case is named with expected vs granted per scope and the deciding rule; JUnit written', async () => {
    const bad = writeFile(
      keys.dir,
      'bad-cases.yaml',
      `cases:
  - name: still fine
    user: alice
    scopes: ["repository:alice/app:pull"]
    expect: { "repository:alice/app": [pull] }
  - name: CI on a branch wrongly expected to push
    provider: github
    claims: { sub: x, repository: acme/app, repository_owner: acme, ref: refs/heads/dev }
    scopes: ["repository:acme/app:pull,push", "repository:public/x:pull"]
    expect: { "repository:acme/app": [pull, push], "repository:public/x": [pull] }
  - name: anonymous wrongly expected nothing
    anonymous: true
    scopes: ["repository:public/busybox:pull"]
    expect: {}
`,
    );
    const junit = join(keys.dir, 'out.xml');
    const r = await inproc(['test', '--config', config, bad, '--junit', junit]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `ok    still fine
FAIL  CI on a branch wrongly expected to push (cases[1], caller acme/app [github])
        repository:acme/app (requested [pull, push])
          expected [pull, push]
          granted  [pull]   decided by acl[7] (CI pulls its repository from any ref) (allows [pull])
          - missing [push]
FAIL  anonymous wrongly expected nothing (cases[2], caller (anonymous))
        repository:public/busybox (requested [pull])
          expected []
          granted  [pull]   decided by acl[9] (public images for everyone signed in or not) (allows [pull])
          + extra   [pull]

1 passed, 2 failed
`,
    );
    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /<testsuite name="purser test bad-cases.yaml" tests="3" failures="2"/);
    assert.match(xml, /<testcase classname="[^"]+" name="still fine"\/>/);
    assert.match(
      xml,
      /name="CI on a branch wrongly expected to push">\n\s+<failure message="granted access differs for repository:acme\/app">/,
    );
    assert.match(xml, /- missing \[push\]/);
  });

  test("a provider case whose claims fail the provider's when is a refused login", async () => {
    const f = writeFile(
      keys.dir,
      'refused.yaml',
      `cases:
  - name: outsider expected to pull
    provider: github
    claims: { sub: x, repository: evil/app, repository_owner: evil, ref: refs/heads/main }
    scopes: ["repository:evil/app:pull"]
    expect: { "repository:evil/app": [pull] }
`,
    );
    const r = await inproc(['test', '--config', config, f]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /FAIL {2}outsider expected to pull \(cases\[0\], caller \(refused\)\)\n {8}login refused: token refused by provider github's condition/,
    );
  });

  for (const [label, body, key] of [
    ['not YAML', 'cases: [', /bad\.yaml: not valid YAML/],
    ['no cases', 'cases: []', /bad\.yaml: cases: /],
    [
      'unknown key',
      'cases: [{name: a, user: alice, scopes: [], expect: {}, extra: 1}]',
      /cases\[0\]: unknown key "extra"/,
    ],
    [
      'two identities',
      'cases: [{name: a, user: alice, anonymous: true, scopes: [], expect: {}}]',
      /cases\[0\]: give exactly one of/,
    ],
    [
      'unknown user',
      'cases: [{name: a, user: nobody, scopes: [], expect: {}}]',
      /cases\[0\]\.user: no user "nobody"/,
    ],
    [
      'unknown provider',
      'cases: [{name: a, provider: gitlab, claims: {}, scopes: [], expect: {}}]',
      /cases\[0\]\.provider: no provider "gitlab"/,
    ],
    [
      'bad scope',
      'cases: [{name: a, user: alice, scopes: ["repository:A:pull"], expect: {}}]',
      /cases\[0\]\.scopes\[0\]: invalid scope/,
    ],
    [
      'expect not requested',
      'cases: [{name: a, user: alice, scopes: ["repository:a:pull"], expect: {"repository:b": [pull]}}]',
      /cases\[0\]\.expect\.repository:b: not one of the requested scopes \(repository:a\)/,
    ],
    [
      'duplicate names',
      'cases: [{name: a, anonymous: true, scopes: [], expect: {}}, {name: a, anonymous: true, scopes: [], expect: {}}]',
      /cases\[1\]\.name: duplicate/,
    ],
  ] as const) {
    test(`a bad cases file (${label}) exits 2 naming the key`, async () => {
      const f = writeFile(keys.dir, 'bad.yaml', body);
      const r = await inproc(['test', '--config', config, f]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, key);
    });
  }

  test("a static user's configured groups and labels are its identity's, as a login gives them", async () => {
    const cfg = writeFile(
      keys.dir,
      'groups.yaml',
      `token: { issuer: purser, service: registry.test, key: token.key }
users:
  gina: { password: pw, groups: [admins], labels: { team: platform } }
  hal: { password: pw }
acl:
  - match: { group: admins, name: "ops/**" }
    actions: [pull, push]
  - match: { name: "admin/**" }
    when: "'admins' in identity.groups && identity.labels.team == 'platform'"
    actions: ["*"]
`,
    );
    const f = writeFile(
      keys.dir,
      'groups-cases.yaml',
      `cases:
  - name: gina pushes ops by group
    user: gina
    scopes: ["repository:ops/app:pull,push", "repository:admin/x:delete"]
    expect: { "repository:ops/app": [pull, push], "repository:admin/x": [delete] }
  - name: hal has no groups
    user: hal
    scopes: ["repository:ops/app:pull,push", "repository:admin/x:delete"]
    expect: { "repository:ops/app": [], "repository:admin/x": [] }
`,
    );
    const r = await inproc(['test', '--config', cfg, f]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('token.compat: zot is evaluated as serve does: the catalog scope, * expanded; refused without it', async () => {
    const zotConfig = writeFile(
      keys.dir,
      'zot.yaml',
      `token: { issuer: t, service: zot.test, key: token.key, compat: zot }
users: { alice: { password: x } }
acl:
  - match: { type: registry, name: catalog, account: alice }
    actions: ["*"]
  - match: { account: alice }
    actions: ["*"]
`,
    );
    const zotCases = writeFile(
      keys.dir,
      'zot-cases.yaml',
      `cases:
  - name: alice lists Zot's catalog
    user: alice
    scopes: ["repository::pull", "repository:app:*"]
    expect: { "repository:": [pull], "repository:app": [pull, push, delete] }
`,
    );
    const ok = await inproc(['test', '--config', zotConfig, zotCases]);
    assert.equal(ok.code, 0, ok.stdout);
    const plain = await inproc(['test', '--config', config, zotCases]);
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /cases\[0\]\.scopes\[0\]: empty resource name .*token\.compat: zot/);
  });

  test('usage: no cases file, or no --config, exits 2', async () => {
    assert.equal((await inproc(['test', '--config', config])).code, 2);
    assert.equal((await inproc(['test', cases])).code, 2);
    const help = await inproc(['test', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: purser test/);
  });
});
