// What a serving process loads: the parts a configuration does not use are not loaded at all
// (issue 11: idle RSS per worker). Each optional part is megabytes of every worker that loads
// it: undici (OIDC issuers, webhooks, the proxy), ioredis (redis:), ldapts (ldap:), CEL and
// RE2 (expressions and regex patterns), the proxy, and the CLI's other commands.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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
  appendFileSync(process.env.PURSER_TEST_LOADED, url + '\\n');
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
    appendFileSync(process.env.PURSER_TEST_LOADED, Module._resolveFilename(request, parent, isMain) + '\\n');
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

  /** The optional parts a server with `config` loaded by the time it served one token. */
  async function loadedBy(config: Record<string, unknown>): Promise<string[]> {
    const file = join(dir, `loaded-${++n}.txt`);
    writeFileSync(file, '');
    const p = await startPurser(
      { token: { issuer: 'lazy', service: 'registry', key: keys.key, certificate: keys.crt }, ...config },
      { env: { PURSER_TEST_LOADED: file, NODE_OPTIONS: `--require ${join(dir, 'preload.cjs')}` } },
    );
    try {
      const res = await fetch(`${p.url}/token?service=registry&scope=repository:public/app:pull`);
      assert.equal(res.status, 200, await res.text());
    } finally {
      await p.stop();
    }
    const loaded = readFileSync(file, 'utf8');
    assert.match(loaded, /dist\/src\/cli\/serve\.js/, 'the hooks recorded nothing');
    return Object.entries(OPTIONAL)
      .filter(([, re]) => re.test(loaded))
      .map(([name]) => name);
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
});
