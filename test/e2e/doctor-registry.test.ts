// `purser doctor --registry URL` against the real distribution registry: a correct setup passes,
// and each wrong piece of the registry's auth.token block is named with its fix.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { purserBin, repoRoot } from '../helpers/paths.js';
import { describeRun, run } from '../helpers/proc.js';
import { generateKeys, type KeyPair } from '../helpers/purser.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const SERVICE = 'registry.doctor.test';
const ISSUER = 'purser-doctor-test';
const REALM = 'http://127.0.0.1:5999/token';

let dir: string;
let good: KeyPair;
let other: KeyPair;
const registries: Registry[] = [];

function writeConfig(name: string, token: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    stringify({
      listen: '127.0.0.1:5999',
      token: { issuer: ISSUER, service: SERVICE, keyId: 'libtrust', ...token },
      users: {},
      acl: [{ match: { account: 'nobody' }, actions: ['pull'] }],
    }),
  );
  return path;
}

async function registry(auth: {
  service?: string;
  issuer?: string;
  rootcertbundle?: string;
}): Promise<Registry> {
  const r = await startRegistry({
    auth: {
      mode: 'token',
      realm: REALM,
      service: auth.service ?? SERVICE,
      issuer: auth.issuer ?? ISSUER,
      rootcertbundle: auth.rootcertbundle ?? good.crt,
    },
  });
  registries.push(r);
  return r;
}

function doctor(args: string[]) {
  return run(process.execPath, [purserBin, 'doctor', ...args], { cwd: repoRoot, timeout: 30_000 });
}

describe('doctor --registry (live checks against docker-registry 2.8)', { timeout: 120_000 }, () => {
  let config: string;
  before(async () => {
    dir = makeTempDir('purser-doctor-');
    good = await generateKeys(join(dir, 'good'), 'ES256');
    other = await generateKeys(join(dir, 'other'), 'ES256');
    config = writeConfig('purser.yml', { key: good.key, certificate: good.crt });
  });
  after(async () => {
    for (const r of registries) await r.stop();
    removeDir(dir);
  });

  test('a correct setup passes with exit 0', async () => {
    const reg = await registry({});
    const r = await doctor(['--config', config, '--registry', reg.url]);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /ok +service registry\.doctor\.test is one of token\.services/);
    assert.match(r.stdout, /ok +realm http:\/\/127\.0\.0\.1:5999\/token is this config's token URL/);
    assert.match(r.stdout, /ok +the registry accepts tokens signed by key \[0\]/);
    assert.match(r.stdout, /accepts Purser's tokens/);
    assert.doesNotMatch(r.stdout, /ERROR/);
  });

  test('a wrong rootcertbundle is named, exactly with --registry-config', async () => {
    const reg = await registry({ rootcertbundle: other.crt });
    const plain = await doctor(['--config', config, '--registry', reg.url]);
    assert.equal(plain.code, 1, describeRun(plain));
    assert.match(plain.stdout, /ERROR +the registry refuses a token signed by key \[0\]/);
    // Without its config the registry's answer cannot tell issuer from key: both are named.
    assert.match(
      plain.stdout,
      /auth\.token\.issuer is not "purser-doctor-test", or its rootcertbundle does not hold/,
    );
    const exact = await doctor([
      '--config',
      config,
      '--registry',
      reg.url,
      '--registry-config',
      reg.configPath,
    ]);
    assert.equal(exact.code, 1, describeRun(exact));
    assert.match(
      exact.stdout,
      new RegExp(
        `rootcertbundle ${other.crt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} holds no certificate of key \\[0\\]`,
      ),
    );
    assert.match(
      exact.stdout,
      new RegExp(
        `fix: set rootcertbundle to \\(or append to the bundle\\) ${good.crt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`,
      ),
    );
    assert.doesNotMatch(exact.stdout, /auth\.token\.issuer is/);
  });

  test('a wrong issuer is named with its fix', async () => {
    const reg = await registry({ issuer: 'someone-else' });
    const r = await doctor(['--config', config, '--registry', reg.url, '--registry-config', reg.configPath]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stdout, /auth\.token\.issuer is "someone-else", Purser signs iss "purser-doctor-test"/);
    assert.match(r.stdout, /fix: set auth\.token\.issuer: purser-doctor-test in the registry's config/);
    assert.doesNotMatch(r.stdout, /holds no certificate/);
  });

  test('a wrong service is named from the challenge alone', async () => {
    const reg = await registry({ service: 'wrong.service' });
    const r = await doctor(['--config', config, '--registry', reg.url]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(
      r.stdout,
      /the registry's service is "wrong\.service", which is not in token\.services \(registry\.doctor\.test\)/,
    );
    assert.match(
      r.stdout,
      /fix: set auth\.token\.service: registry\.doctor\.test in the registry's config, or add "wrong\.service" to token\.services/,
    );
    assert.match(
      r.stdout,
      /a token for service "wrong\.service" is accepted: the service is the only mismatch/,
    );
  });

  test('a key-id form the registry does not read is named (thumbprint on distribution 2.x)', async () => {
    const reg = await registry({});
    const thumb = writeConfig('thumb.yml', { key: good.key, certificate: good.crt, keyId: 'thumbprint' });
    const r = await doctor(['--config', thumb, '--registry', reg.url]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(
      r.stdout,
      /trusts key \[0\] but not its thumbprint kid; it accepts libtrust and x5c \(distribution 2\.x names keys by libtrust kid\)/,
    );
    assert.match(r.stdout, /fix: set token\.keyId: x5c/);
  });

  test('rotation: a published key the registry does not trust yet is a warning; trusted, it is ready', async () => {
    const rotating = writeConfig('rotate.yml', {
      keys: [
        { key: good.key, certificate: good.crt },
        { key: other.key, certificate: other.crt },
      ],
    });
    const only = await registry({});
    const r = await doctor(['--config', rotating, '--registry', only.url]);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(
      r.stdout,
      /WARNING key \[1\] \(.*other\/token\.key\) is published but the registry does not trust it yet/,
    );
    const bundle = join(dir, 'bundle.crt');
    writeFileSync(bundle, [good.crt, other.crt].map((f) => readFileSync(f, 'utf8')).join(''));
    const both = await registry({ rootcertbundle: bundle });
    const r2 = await doctor(['--config', rotating, '--registry', both.url]);
    assert.equal(r2.code, 0, describeRun(r2));
    assert.match(r2.stdout, /ok +key \[1\] .* is trusted too: it can be moved first to sign/);
    // Swapped too early: the new key signs while the registry trusts only the old one.
    const early = writeConfig('early.yml', {
      keys: [
        { key: other.key, certificate: other.crt },
        { key: good.key, certificate: good.crt },
      ],
    });
    const r3 = await doctor(['--config', early, '--registry', only.url]);
    assert.equal(r3.code, 1, describeRun(r3));
    assert.match(r3.stdout, /the registry trusts key \[1\] but key \[0\] signs/);
  });

  test('an unreachable registry and a registry without token auth are errors', async () => {
    const gone = await doctor(['--config', config, '--registry', 'http://127.0.0.1:1']);
    assert.equal(gone.code, 1, describeRun(gone));
    assert.match(gone.stdout, /http:\/\/127\.0\.0\.1:1\/v2\/ is unreachable/);
    const open = await startRegistry({ auth: { mode: 'none' } });
    registries.push(open);
    const r = await doctor(['--config', config, '--registry', open.url]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stdout, /answers 200 without a token: the registry has no token auth configured/);
  });

  test('clock skew beyond the registry leeway is an error, and named as the whole problem', async () => {
    // A registry double 5 minutes ahead that checks a token's dates as distribution does
    // (60 s leeway on exp and nbf, against its own clock) and nothing else.
    const ahead = 300_000;
    const server = createServer((req, res) => {
      const now = (Date.now() + ahead) / 1000;
      res.setHeader('date', new Date(Date.now() + ahead).toUTCString());
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (bearer) {
        const claims = JSON.parse(Buffer.from(bearer.split('.')[1]!, 'base64url').toString());
        if (now <= claims.exp + 60 && now >= claims.nbf - 60) {
          res.statusCode = 404;
          return res.end();
        }
      }
      res.setHeader(
        'www-authenticate',
        `Bearer realm="${REALM}",service="${SERVICE}"${bearer ? ',error="invalid_token"' : ''}`,
      );
      res.statusCode = 401;
      res.end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await doctor(['--config', config, '--registry', `http://127.0.0.1:${port}`]);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(
        r.stdout,
        /the registry's clock is (29\d|30\d) s ahead of this machine's, beyond its 60 s leeway/,
      );
      assert.match(
        r.stdout,
        /refuses key \[0\]'s token only for the clock skew: dated by its clock, it is accepted/,
      );
      assert.doesNotMatch(r.stdout, /auth\.token\.issuer is not/);
    } finally {
      server.close();
    }
  });

  test('bad flags are usage errors (exit 2)', async () => {
    const r = await doctor(['--config', config, '--registry', 'ftp://x/']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /--registry ftp:\/\/x\/: give the registry's base URL/);
    const r2 = await doctor(['--config', config, '--registry-config', 'x.yml']);
    assert.equal(r2.code, 2, describeRun(r2));
    assert.match(r2.stderr, /--registry-config and --registry-ca need --registry URL/);
  });
});
