import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfigFile } from '../../../src/config/load.js';
import { referencedFiles } from '../../../src/runtime/file-watch.js';
import { tempDir, writeFile } from '../support.js';

describe('referencedFiles: what a change to reloads', () => {
  const t = tempDir();
  after(() => t.cleanup());

  test('files read through ${file:…} and the listeners’ tls files are watched', () => {
    writeFile(t.dir, 'alice.pw', 'secret\n');
    writeFile(t.dir, 'upstream.pw', 'secret\n');
    const f = writeFile(
      t.dir,
      'purser.yml',
      'token:\n  issuer: purser\n  service: registry.local\n  key: keys/token.key\n' +
        'tls: { cert: tls/a.crt, key: tls/a.key }\n' +
        'users:\n  alice: { password: "${file:alice.pw}" }\n' +
        'proxy:\n  listen: 127.0.0.1:0\n  upstream: http://127.0.0.1:5000\n' +
        '  upstreamAuth: { basic: { username: u, password: "${file:' +
        join(t.dir, 'upstream.pw') +
        '}" } }\n  tls: { cert: tls/p.crt, key: tls/p.key, minVersion: TLSv1.3 }\n' +
        'acl:\n  - match: { account: alice }\n    actions: [pull]\n',
    );
    const c = loadConfigFile(f);
    assert.deepEqual(c.fileRefs, [join(t.dir, 'alice.pw'), join(t.dir, 'upstream.pw')]);
    assert.equal(c.proxy?.tls?.minVersion, 'TLSv1.3');
    assert.equal(c.tls?.minVersion, 'TLSv1.2');
    const files = referencedFiles(c);
    for (const p of [
      'purser.yml',
      'keys/token.key',
      'alice.pw',
      'upstream.pw',
      'tls/a.crt',
      'tls/a.key',
      'tls/p.crt',
      'tls/p.key',
    ])
      assert.ok(files.includes(join(t.dir, p)), `${p} is watched`);
  });
});
