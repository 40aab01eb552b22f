// What a serving process loads: the parts a configuration does not use are not loaded at all
// (issue 11: idle RSS per worker). Each optional part is megabytes of every worker that loads
// it: undici (OIDC issuers, webhooks, the proxy), ioredis (redis:), ldapts (ldap:), CEL and
// RE2 (expressions and regex patterns), the proxy, and the CLI's other commands.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeys, type KeyPair, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

// Records every module a process loads into $PURSER_TEST_LOADED: ES modules through a
// loader hook (module.register), CommonJS ones and require(esm) through Module._load.
const ESM_HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  const r = await next(url, context);
  appendFileSync(process.env.PURSER_TEST_LOADED + '-' + process.pid, url + '\\n');
  return r;
}`;
const PRELOAD = `
const { appendFileSync } = require('node:fs');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');
Module.register(pathToFileURL(${JSON.stringify('HOOKS')}));
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const out = load.apply(this, arguments);
  try {
    appendFileSync(process.env.PURSER_TEST_LOADED + '-' + process.pid, Module._resolveFilename(request, parent, isMain) + '\\n');
  } catch {}
  return out;
};`;

const OPTIONAL = {
  undici: /node_modules\/undici\//,
  ioredis: /node_modules\/ioredis\//,
  ldapts: /node_modules\/ldapts\//,
  'cel-js': /node_modules\/@marcbachmann\/cel-js\//,
  re2js: /node_modules\/re2js\//,
  proxy: /dist\/src\/proxy\//,
  // (keys.js is in: serve's development default writes its key pair with it.)
  'other commands': /dist\/src\/cli\/(check|doctor|test|revoke|hash|kube-controller)\.js/,
} as const;

describe('a serving process loads only what its config uses', () => {
  let dir: string;
  let keys: KeyPair;
  let n = 0;
  before(async () => {
    dir = makeTempDir('purser-lazy-');
    keys = await generateKeys(join(dir, 'keys'), 'ES256');
    writeFileSync(join(dir, 'hooks.mjs'), ESM_HOOKS);
    writeFileSync(join(dir, 'preload.cjs'), PRELOAD.replace('HOOKS', join(dir, 'hooks.mjs')));
  });
  after(() => removeDir(dir));

  /** What each process of a server with `config` loaded by the time it served one token. */
  async function loadedByEach(config: Record<string, unknown>): Promise<string[]> {
    const prefix = `loaded-${++n}`;
    const p = await startPurser(
      { token: { issuer: 'lazy', service: 'registry', key: keys.key, certificate: keys.crt }, ...config },
      {
        env: { PURSER_TEST_LOADED: join(dir, prefix), NODE_OPTIONS: `--require ${join(dir, 'preload.cjs')}` },
      },
    );
    try {
      const res = await fetch(`${p.url}/token?service=registry&scope=repository:public/app:pull`);
      assert.equal(res.status, 200, await res.text());
    } finally {
      await p.stop();
    }
    const files = readdirSync(dir).filter((f) => f.startsWith(`${prefix}-`));
    assert.ok(files.length > 0, 'the hooks recorded nothing');
    return files.map((f) => readFileSync(join(dir, f), 'utf8'));
  }

  const optionalIn = (loaded: string) =>
    Object.entries(OPTIONAL)
      .filter(([, re]) => re.test(loaded))
      .map(([name]) => name);

  /** The optional parts a one-process server with `config` loaded. */
  async function loadedBy(config: Record<string, unknown>): Promise<string[]> {
    const [loaded] = await loadedByEach({ workers: 1, ...config });
    assert.match(loaded!, /dist\/src\/cli\/serve\.js/, 'the hooks recorded nothing');
    return optionalIn(loaded!);
  }

  test('static users, a glob ACL, anonymous pulls: none of the optional parts', async () => {
    const loaded = await loadedBy({
      auth: { anonymous: true },
      users: { alice: { password: 'secret' } },
      acl: [
        { match: { account: 'alice', name: 'alice/**' }, actions: ['*'] },
        { match: { account: '', name: 'public/**' }, actions: ['pull'] },
      ],
    });
    assert.deepEqual(loaded, []);
  });

  test('a CEL condition and a regex pattern load CEL and RE2, and nothing else', async () => {
    const loaded = await loadedBy({
      auth: { anonymous: true },
      acl: [{ match: { account: '', name: '/public/[a-z]+/' }, when: 'request.ip != ""', actions: ['pull'] }],
    });
    assert.deepEqual(loaded.sort(), ['cel-js', 're2js']);
  });

  test('with workers, a worker loads neither the YAML parser nor the schema: its primary hands it the config', async () => {
    const all = await loadedByEach({
      workers: 2,
      auth: { anonymous: true },
      acl: [{ match: { account: '', name: 'public/**' }, actions: ['pull'] }],
    });
    const workers = all.filter((l) => /dist\/src\/runtime\/cluster-worker\.js/.test(l));
    const primary = all.filter((l) => /dist\/src\/runtime\/cluster-primary\.js/.test(l));
    assert.equal(workers.length, 2, `${all.length} processes recorded`);
    assert.equal(primary.length, 1);
    assert.match(primary[0]!, /node_modules\/zod\//, 'the primary validates the config');
    for (const w of workers) {
      assert.doesNotMatch(w, /node_modules\/(zod|yaml)\//);
      assert.deepEqual(optionalIn(w), []);
    }
  });
});
