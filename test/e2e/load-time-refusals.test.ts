// One load-time compile (src/config/compile.ts) behind serve, check and doctor: a configuration
// one of them refuses, all three refuse, with exit 2 and the same key (or file) named. Before
// compileConfig, doctor passed every one of these but the reserved name and the bad key file.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { purserBin } from '../helpers/paths.js';
import { run } from '../helpers/proc.js';
import { generateKeys, type KeyPair } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const HASH = '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';

interface Case {
  name: string;
  /** Changes to a valid configuration. */
  config: (k: KeyPair, dir: string) => Record<string, unknown>;
  /** Files to write into the directory first. */
  files?: Record<string, string>;
  /** What every command's message must name: `: KEY: ` of a ConfigError, or a file. */
  names: string;
}

const provider = (extra: Record<string, unknown>) => ({
  name: 'ci',
  issuer: 'https://issuer.invalid',
  audience: 'registry',
  ...extra,
});

const CASES: Case[] = [
  { name: 'htpasswd missing', config: () => ({ htpasswd: 'absent.htpasswd' }), names: 'absent.htpasswd' },
  {
    name: 'htpasswd line without a hash',
    files: { 'bad.htpasswd': 'alice\n' },
    config: () => ({ htpasswd: 'bad.htpasswd' }),
    names: 'bad.htpasswd',
  },
  {
    name: 'a user in htpasswd and in users',
    files: { 'u.htpasswd': `alice:${HASH}\n` },
    config: () => ({ htpasswd: 'u.htpasswd', users: { alice: HASH } }),
    names: ': users.alice: ',
  },
  {
    name: 'a provider named like an htpasswd user',
    files: { 'ci.htpasswd': `ci:${HASH}\n` },
    config: () => ({ htpasswd: 'ci.htpasswd', users: {}, providers: [provider({})] }),
    names: ': providers[0].name: ',
  },
  {
    name: 'a reserved provider name',
    config: () => ({ providers: [provider({ name: 'static' })] }),
    names: ': providers[0].name: ',
  },
  {
    name: 'a webhook over plain http',
    config: () => ({
      webhooks: { authn: { url: 'http://127.0.0.1:9/authn', secret: 'a-webhook-secret-of-32-characters!' } },
    }),
    names: ': webhooks.authn.url: ',
  },
  {
    name: 'a webhook CA that holds no certificate',
    files: { 'junk.pem': 'not a certificate\n' },
    config: (_k, dir) => ({
      webhooks: {
        authz: {
          url: 'https://127.0.0.1:9/authz',
          secret: 'a-webhook-secret-of-32-characters!',
          ca: join(dir, 'junk.pem'),
        },
      },
    }),
    names: ': webhooks.authz.ca: ',
  },
  {
    name: 'no way to authenticate',
    config: () => ({ users: {}, auth: { anonymous: false } }),
    names: ': users: ',
  },
  {
    name: 'an ACL condition that does not compile',
    config: () => ({ acl: [{ match: {}, actions: ['pull'], when: 'identity.account ==' }] }),
    names: ': acl[0].when: ',
  },
  {
    name: "a provider's account expression that does not compile",
    config: () => ({ providers: [provider({ account: 'claims.sub +' })] }),
    names: ': providers[0].account: ',
  },
  {
    name: 'an ACL pattern that does not compile',
    config: () => ({ acl: [{ match: { name: '/team/[/' }, actions: ['pull'] }] }),
    names: ': acl[0].match.name: ',
  },
  {
    name: "a provider's keys file missing",
    config: () => ({ providers: [provider({ keys: 'absent-jwks.json' })] }),
    names: ': providers[0].keys: ',
  },
  {
    name: 'a signing key file that is not a key',
    files: { 'garbage.key': 'not a key\n' },
    config: (k) => ({
      token: { issuer: 'purser', service: 'registry.test', key: 'garbage.key', certificate: k.crt },
    }),
    names: 'garbage.key',
  },
];

describe('serve, check and doctor refuse the same configurations', () => {
  let dir: string;
  let keys: KeyPair;

  before(async () => {
    dir = makeTempDir('purser-refusals-');
    keys = await generateKeys(dir, 'ES256');
  });
  after(() => removeDir(dir));

  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const sub = join(dir, `case-${i}`);
      mkdirSync(sub);
      for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(sub, name), text);
      const config = {
        listen: '127.0.0.1:0',
        token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
        users: { bob: { password: 'pw' } },
        acl: [{ match: {}, actions: ['pull'] }],
        ...c.config(keys, sub),
      };
      const file = join(sub, 'purser.yml');
      writeFileSync(file, stringify(config));
      const commands: [string, string[]][] = [
        ['serve', ['serve', '--config', file]],
        ['check', ['check', '--config', file, '--scope', 'repository:a:pull', '--anonymous']],
        ['doctor', ['doctor', '--config', file]],
      ];
      for (const [name, args] of commands) {
        // A serve that accepted the configuration would keep running: killed, code null.
        const r = await run(process.execPath, [purserBin, ...args], { cwd: sub, timeout: 15_000 });
        assert.equal(r.code, 2, `${name} exits 2 (stderr: ${r.stderr.slice(0, 400)})`);
        assert.ok(
          r.stderr.includes(c.names),
          `${name} names ${JSON.stringify(c.names)}; stderr: ${r.stderr.slice(0, 400)}`,
        );
      }
    });
  });
});
