// One example app end to end: examples/own-user-table.ts (its own users and rules, Purser
// mounted at /auth in node:http) in front of the real registry, skopeo pushing and pulling.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as ownUsers from '../../examples/own-user-table.js';
import { writeKeyPair } from '../../src/cli/keys.js';
import { assertFails, assertOk } from '../helpers/assert.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const SERVICE = 'registry.example';
const ISSUER = 'example-auth';

describe('examples/own-user-table.ts in front of the registry, with skopeo', { timeout: 120_000 }, () => {
  const keyDir = makeTempDir('purser-example-keys-');
  const dirs = [keyDir];
  let app: Awaited<ReturnType<typeof ownUsers.start>> | undefined;
  let registry: Registry | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;

  before(async () => {
    const keys = await writeKeyPair(keyDir, 'ES256');
    // The { key, certificate } form: the registry trusts the certificate.
    app = await ownUsers.start({
      signingKey: {
        key: readFileSync(keys.keyPath, 'utf8'),
        certificate: readFileSync(keys.crtPath, 'utf8'),
      },
      issuer: ISSUER,
      service: SERVICE,
    });
    registry = await startRegistry({
      auth: {
        mode: 'token',
        realm: `${app.origin}/auth/token`,
        service: SERVICE,
        issuer: ISSUER,
        rootcertbundle: keys.crtPath,
      },
    });
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
  });
  after(async () => {
    await registry?.stop();
    await app?.close();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test('alice (developer) pushes to her team and pulls it back; bob (reader) pulls, cannot push', async () => {
    const s = sk!;
    const ref = `docker://${registry!.host}/team-a/app:v1`;
    const alice = { username: 'alice', password: 'alice-pw' };
    const bob = { username: 'bob', password: 'bob-pw' };
    assertOk(await s.copy(img.ref, ref, { dest: alice }), 'alice pushes');
    const out = makeTempDir('purser-example-out-');
    dirs.push(out);
    assertOk(await s.copy(ref, `oci:${out}:v1`, { src: bob }), 'bob pulls');
    assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
    assertFails(
      await s.copy(img.ref, `docker://${registry!.host}/team-a/bob-was-here:v1`, { dest: bob }),
      /denied|unauthorized|authentication required/i,
      'bob may not push',
    );
  });
});
