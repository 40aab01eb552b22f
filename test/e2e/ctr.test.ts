// containerd's ctr (1.6) against distribution 2.8 with Purser as its token server: ctr sends
// `POST /token grant_type=password` with every scope in one space-separated field.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Containerd,
  containerdUnavailable,
  mountsUnder,
  startContainerd,
} from '../helpers/containerd.js';
import { dockerArchive, settledTokenRequests, type TokenRequestLog } from '../helpers/dockerd.js';
import { describeRun } from '../helpers/proc.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const SERVICE = 'registry.local';
const ISSUER = 'purser';
const PASSWORD = 'alice-pw';
const WRONG = 'not-the-password';

function show(reqs: TokenRequestLog[]): string {
  return reqs.map((r) => JSON.stringify(r.raw)).join('\n');
}

describe('ctr (containerd) with Purser as token server', {
  skip: containerdUnavailable(),
  timeout: 120_000,
}, () => {
  let dir = '';
  /** The daemon's own temp dir (its mounts live here, apart from the rest). */
  let daemonDir = '';
  let purser: Purser | undefined;
  let registry: Registry | undefined;
  let containerd: Containerd | undefined;
  let ref = '';

  const c = (): Containerd => {
    assert.ok(containerd, 'containerd did not start');
    return containerd;
  };
  const p = (): Purser => {
    assert.ok(purser, 'purser did not start');
    return purser;
  };
  const since = (mark: number): Promise<TokenRequestLog[]> => settledTokenRequests(() => p().logs(), mark);
  const context = (mark: number): string =>
    `--- purser log since the command\n${p().logs().slice(mark)}\n--- registry log (tail)\n${registry?.logs().slice(-3000) ?? ''}`;
  const listed = async (): Promise<string[]> => {
    const r = await c().ctr(['images', 'ls', '-q']);
    assert.equal(r.code, 0, describeRun(r));
    return r.stdout.split('\n').filter(Boolean);
  };
  const removeLocal = async (): Promise<void> => {
    if (!(await listed()).includes(ref)) return;
    const r = await c().ctr(['images', 'rm', '--sync', ref]);
    assert.equal(r.code, 0, describeRun(r));
  };
  const pull = (user?: string) =>
    c().ctr(['images', 'pull', '--plain-http', ...(user !== undefined ? ['--user', user] : []), ref], {
      timeout: 30_000,
    });

  /** At least one token request in the window, and each one a POST grant_type=password with `status`. */
  const assertPasswordGrant = async (mark: number, what: string, status: number): Promise<void> => {
    const reqs = await since(mark);
    assert.ok(reqs.length > 0, `Purser logged no token request for ${what}\n${context(mark)}`);
    for (const q of reqs) {
      assert.equal(q.method, 'POST', `${what}: expected POST /token, got:\n${show(reqs)}`);
      assert.equal(q.grantType, 'password', `${what}: expected grant_type=password, got:\n${show(reqs)}`);
      if (q.status !== undefined) assert.equal(q.status, status, `${what}:\n${show(reqs)}`);
    }
  };

  before(
    async () => {
      daemonDir = makeTempDir('purser-containerd-');
      dir = makeTempDir('purser-ctr-');
      const keys = await generateKeys(join(dir, 'keys'), 'ES256');
      purser = await startPurser(
        {
          token: { issuer: ISSUER, service: SERVICE, key: keys.key, certificate: keys.crt, expiresIn: 300 },
          users: { alice: { password: PASSWORD } },
          acl: [{ match: { account: 'alice' }, actions: ['*'] }],
        },
        { dir: makeTempDir('purser-ctr-srv-') },
      );
      registry = await startRegistry({
        auth: {
          mode: 'token',
          realm: purser.realm,
          service: SERVICE,
          issuer: ISSUER,
          rootcertbundle: keys.crt,
        },
      });
      ref = `${registry.host}/team/ctr:v1`;
      containerd = await startContainerd(daemonDir);
      const imp = await containerd.ctr(['images', 'import', '-'], { input: dockerArchive([ref]).tar });
      assert.equal(imp.code, 0, describeRun(imp));
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      const errors: unknown[] = [];
      for (const s of [containerd, registry, purser]) {
        try {
          await s?.stop();
        } catch (e) {
          errors.push(e);
        }
      }
      if (purser) removeDir(purser.dir);
      if (dir) removeDir(dir);
      if (daemonDir) {
        const leaked = mountsUnder(daemonDir);
        if (leaked.length === 0) removeDir(daemonDir);
        else errors.push(new Error(`mounts left under ${daemonDir}: ${leaked.join(', ')}`));
      }
      if (errors.length) throw errors[0];
    },
    { timeout: 60_000 },
  );

  test('ctr push with --user (POST grant_type=password)', { timeout: 40_000 }, async () => {
    const mark = p().logs().length;
    const r = await c().ctr(['images', 'push', '--plain-http', '--user', `alice:${PASSWORD}`, ref], {
      timeout: 30_000,
    });
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    await assertPasswordGrant(mark, 'ctr push', 200);
  });

  test('ctr pull with --user (POST grant_type=password)', { timeout: 40_000 }, async () => {
    await removeLocal();
    const mark = p().logs().length;
    const r = await pull(`alice:${PASSWORD}`);
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    assert.ok((await listed()).includes(ref), `${ref} not listed after the pull`);
    await assertPasswordGrant(mark, 'ctr pull', 200);
  });

  test('ctr pull with a wrong password fails', { timeout: 40_000 }, async () => {
    await removeLocal();
    const mark = p().logs().length;
    const r = await pull(`alice:${WRONG}`);
    assert.notEqual(r.code, 0, `pull with a wrong password succeeded:\n${describeRun(r)}\n${context(mark)}`);
    assert.match(r.stderr, /401|unauthori[sz]ed/i, describeRun(r));
    assert.ok(!(await listed()).includes(ref), `${ref} listed after a refused pull`);
    // containerd tries POST grant_type=password first, and after a 400/401/404 retries with GET
    // and Basic credentials: every answer must be a refusal.
    const reqs = await since(mark);
    const first = reqs[0];
    assert.ok(first, `Purser logged no token request\n${context(mark)}`);
    assert.equal(first.method, 'POST', show(reqs));
    assert.equal(first.grantType, 'password', show(reqs));
    for (const q of reqs) if (q.status !== undefined) assert.equal(q.status, 401, show(reqs));
  });

  test('Purser never logs the passwords it was sent', () => {
    const logs = p().logs();
    assert.ok(!logs.includes(PASSWORD), "the password is in Purser's log");
    assert.ok(!logs.includes(WRONG), "a wrong password is in Purser's log");
  });

  test('ctr pull without credentials is refused (no anonymous rule)', { timeout: 40_000 }, async () => {
    await removeLocal();
    const mark = p().logs().length;
    const r = await pull();
    assert.notEqual(r.code, 0, `anonymous pull succeeded:\n${describeRun(r)}\n${context(mark)}`);
    assert.ok(!(await listed()).includes(ref), `${ref} listed after a refused pull`);
    // Anonymous: GET /token with no credentials; it gets a token with no access, which the registry refuses.
    const reqs = await since(mark);
    assert.ok(reqs.length > 0, `Purser logged no token request\n${context(mark)}`);
    for (const q of reqs) assert.notEqual(q.grantType, 'password', show(reqs));
  });
});
