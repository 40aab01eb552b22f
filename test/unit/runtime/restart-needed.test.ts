// restartNeeded (runtime/server-process.ts): what a reload cannot apply is named; what is read
// per request (limits.responseBatch, the ACL) is not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildConfig } from '../../../src/config/load.js';
import { restartNeeded } from '../../../src/runtime/server-process.js';
import { configObject, type KeyFiles, makeKeys } from '../support.js';

let keys: KeyFiles & { cleanup: () => void };
before(async () => {
  keys = await makeKeys('ES256');
});
after(() => keys.cleanup());

const config = (extra: Record<string, unknown>) =>
  buildConfig(configObject(keys, extra), undefined, keys.dir);

test('limits.responseBatch and the ACL apply at a reload; socket limits and listen need a restart', () => {
  const base = config({ limits: { responseBatch: 16 } });
  assert.deepEqual(restartNeeded(base, config({ limits: { responseBatch: 1 } })), []);
  assert.deepEqual(
    restartNeeded(base, config({ acl: [{ match: { account: '*' }, actions: ['pull'] }] })),
    [],
  );
  assert.deepEqual(
    restartNeeded(base, config({ limits: { responseBatch: 16, maxConnections: 7 } })).map(([m]) => m),
    ['limits changed; restart to apply them'],
  );
  assert.deepEqual(
    restartNeeded(base, config({ listen: '127.0.0.1:1', limits: { responseBatch: 16 } })).map(([m]) => m),
    ['listen changed; restart to apply it'],
  );
});
