// Issue 8 hole 9: an OIDC provider cannot take the provider name of Purser's own identities,
// or its callers would match rules written for static users or the anonymous caller.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';

const config = (names: string[]) => ({
  token: { issuer: 'i', service: 's', key: 'k.pem' },
  providers: names.map((name) => ({ name, issuer: 'https://issuer.example', audience: 'a' })),
  acl: [{ match: { provider: 'static' }, actions: ['pull'] }],
});

describe('reserved provider names', () => {
  for (const [names, at] of [
    [['static'], 0],
    [['anonymous'], 0],
    [['ci', 'static'], 1],
  ] as const) {
    test(`providers named ${names.join(', ')} are refused at providers[${at}].name`, () => {
      assert.throws(
        () => buildConfig(config([...names]), 'p.yml', '/tmp'),
        (e: unknown) =>
          e instanceof ConfigError && e.path === `providers[${at}].name` && /is reserved/.test(e.message),
      );
    });
  }

  test('other names, including ones that merely contain a reserved word, are fine', () => {
    const c = buildConfig(config(['ci', 'static-ci', 'anonymous2']), 'p.yml', '/tmp');
    assert.deepEqual(
      c.providers.map((p) => p.name),
      ['ci', 'static-ci', 'anonymous2'],
    );
  });
});
