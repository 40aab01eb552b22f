// `match: { group }` and CEL's identity.groups, compiled the way serve compiles them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Acl } from '../../../src/authz/acl.js';
import { compileConfig } from '../../../src/compile/compile-config.js';
import { buildConfig } from '../../../src/config/load.js';
import { ANONYMOUS, type Identity } from '../../../src/core/identity.js';
import { parseScope } from '../../../src/protocol/scope.js';
import { configObject, type KeyFiles, makeKeys, tempDir } from '../support.js';

let keys: KeyFiles & { cleanup: () => void };
let acl: Acl;
const t = tempDir();
before(async () => {
  keys = await makeKeys();
  const config = buildConfig(
    configObject(keys, {
      acl: [
        { match: { group: ['ops', 'team-*'], name: 'apps/**' }, actions: ['pull', 'push'] },
        { match: { name: 'admin/**' }, when: "'admins' in identity.groups", actions: ['*'] },
        { match: { name: 'labels/**' }, when: "identity.labels.team == 'platform'", actions: ['pull'] },
        { match: { name: 'nogroups/**' }, when: 'size(identity.groups) == 0', actions: ['pull'] },
      ],
    }),
    undefined,
    t.dir,
  );
  acl = new Acl((await compileConfig(config)).rules);
});
after(() => {
  keys.cleanup();
  t.cleanup();
});

const who = (
  groups: string[] | undefined,
  labels: Record<string, string> = {},
  provider = 'ldap',
): Identity => ({
  account: 'u',
  provider,
  labels,
  claims: {},
  ...(groups ? { groups } : {}),
});

function granted(identity: Identity, scope: string): string[] {
  const [d] = acl.authorize({
    identity,
    service: 'registry.test',
    scopes: [parseScope(scope)],
    ip: '127.0.0.1',
  });
  return d!.granted;
}

test('match.group: any of the caller’s groups against any pattern (globs)', () => {
  assert.deepEqual(granted(who(['dev', 'ops']), 'repository:apps/x:pull,push'), ['pull', 'push']);
  assert.deepEqual(granted(who(['team-blue']), 'repository:apps/x:push'), ['push']);
  assert.deepEqual(granted(who(['dev']), 'repository:apps/x:pull'), []);
  assert.deepEqual(granted(who(['team']), 'repository:apps/x:pull'), [], '"team-*" needs the dash');
  assert.deepEqual(granted(who(undefined), 'repository:apps/x:pull'), [], 'no groups never match');
  assert.deepEqual(granted(ANONYMOUS, 'repository:apps/x:pull'), []);
});

test('CEL: identity.groups is a list (empty when the identity has none), identity.labels a map', () => {
  assert.deepEqual(granted(who(['admins'], {}, 'static'), 'repository:admin/t:delete'), ['delete']);
  assert.deepEqual(granted(who(['dev']), 'repository:admin/t:delete'), []);
  assert.deepEqual(granted(who(undefined), 'repository:admin/t:delete'), []);
  assert.deepEqual(granted(who(undefined), 'repository:nogroups/t:pull'), ['pull']);
  assert.deepEqual(granted(ANONYMOUS, 'repository:nogroups/t:pull'), ['pull']);
  assert.deepEqual(granted(who([], { team: 'platform' }, 'static'), 'repository:labels/t:pull'), ['pull']);
});
