// Workload identity end to end: a GitHub-shaped JWT from a loopback issuer, Purser, the real
// registry (distribution) trusting Purser, and skopeo logging in with the JWT as a password.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { decodeJwt, errorMessage, TestIssuer, tokenRequest, waitFor } from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { ALICE, SERVICE, type Stack, startStack } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 60_000;
const ACCOUNT_CEL = '"github/" + claims.repository';

describe('GitHub Actions JWT → Purser → registry (skopeo)', { timeout: TIMEOUT }, () => {
  let issuer: TestIssuer | undefined;
  let stack: Stack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => [...(stack?.logSources() ?? [])];
  const docker = (repo: string): string => `docker://${stack!.host}/${repo}`;
  const gh = (jwt: string, username = 'github') => ({ username, password: jwt });

  before(async () => {
    issuer = await TestIssuer.start();
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    stack = await startStack({
      acl: [
        { match: { account: ALICE.username }, actions: ['*'] },
        {
          match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
          when: 'claims.ref == "refs/heads/main" || request.actions == ["pull"]',
          actions: ['pull', 'push'],
          comment: 'main may push its own repository, other refs pull it',
        },
        {
          match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
          actions: ['pull'],
        },
      ],
      extra: {
        auth: { anonymous: false, failedLogins: { max: 1000 } },
        providers: [
          {
            name: 'github',
            issuer: issuer.url,
            audience: 'https://github.com/acme',
            account: ACCOUNT_CEL,
            when: 'claims.repository_owner == "acme"',
            keyCache: { cooldown: 1 },
          },
        ],
      },
    });
    // Purser fetches the issuer's keys in the background at start-up.
    await waitFor(() => issuer!.hits.jwks >= 1, 'Purser to fetch the JWKS');
  });
  after(async () => {
    await stack?.stop();
    await issuer?.close();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'a main-branch JWT for acme/app pushes to acme/app and pulls it back',
    withLogs(logs, async () => {
      const jwt = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/main' });
      assertOk(await sk!.copy(img.ref, docker('acme/app:v1'), { dest: gh(jwt) }), 'push acme/app');
      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      assertOk(await sk!.copy(docker('acme/app:v1'), `oci:${out}:v1`, { src: gh(jwt) }), 'pull acme/app');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
    }),
  );

  test(
    'the same JWT may not push to other/app (nor pull it)',
    withLogs(logs, async () => {
      assertOk(await sk!.copy(img.ref, docker('other/app:v1'), { dest: ALICE }), 'alice seeds other/app');
      const jwt = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/main' });
      assertFails(
        await sk!.copy(img.ref, docker('other/app:acme'), { dest: gh(jwt) }),
        NO_ACCESS,
        'push other/app',
      );
      assertFails(await sk!.inspect(docker('other/app:v1'), gh(jwt)), NO_ACCESS, 'inspect other/app');
      assertFails(
        await sk!.inspect(docker('other/app:acme'), ALICE),
        /manifest unknown|not found/i,
        'nothing was pushed',
      );
    }),
  );

  test(
    'a feature-branch JWT pulls acme/app but may not push (pull-only rule by branch)',
    withLogs(logs, async () => {
      const main = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/main' });
      assertOk(
        await sk!.copy(img.ref, docker('acme/app:base'), { dest: gh(main) }),
        'main seeds acme/app:base',
      );
      const feature = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/feature' });
      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      assertOk(
        await sk!.copy(docker('acme/app:base'), `oci:${out}:base`, { src: gh(feature) }),
        'feature pulls',
      );
      assert.equal(readLayoutDigest(out, 'base'), img.manifestDigest);
      assertFails(
        await sk!.copy(img.ref, docker('acme/app:feature'), { dest: gh(feature) }),
        NO_ACCESS,
        'feature pushes',
      );
      assertFails(
        await sk!.inspect(docker('acme/app:feature'), ALICE),
        /manifest unknown|not found/i,
        'nothing pushed',
      );
    }),
  );

  test(
    "the issued token's account is what the provider's account CEL says; access is decided per scope",
    withLogs(logs, async () => {
      const jwt = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/main' });
      const r = await tokenRequest(stack!.purser.url, gh(jwt), {
        service: SERVICE,
        scope: ['repository:acme/app:pull,push', 'repository:other/app:pull,push'],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const { payload } = decodeJwt(String(r.body.token));
      assert.equal(payload.sub, 'github/acme/app');
      assert.equal(payload.aud, SERVICE);
      const access = payload.access as { type: string; name: string; actions: string[] }[];
      assert.deepEqual(
        access.map((a) => ({ ...a, actions: [...a.actions].sort() })),
        [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }],
      );

      const feature = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/feature' });
      const f = await tokenRequest(stack!.purser.url, gh(feature), {
        service: SERVICE,
        scope: 'repository:acme/app:pull,push',
      });
      assert.equal(f.status, 200);
      const fa = decodeJwt(String(f.body.token)).payload;
      assert.equal(fa.sub, 'github/acme/app');
      assert.deepEqual(fa.access, [{ type: 'repository', name: 'acme/app', actions: ['pull'] }]);
    }),
  );

  test(
    'login with an arbitrary username and the JWT as password: the provider is chosen by iss',
    withLogs(logs, async () => {
      const jwt = await issuer!.github({ repository: 'acme/app', ref: 'refs/heads/main' });
      assertOk(
        await sk!.copy(img.ref, docker('acme/app:anyuser'), { dest: gh(jwt, 'ci-bot') }),
        'push as ci-bot',
      );
      assertOk(await sk!.login(stack!.host, 'oauth2accesstoken', jwt), 'skopeo login with the JWT');
      assertOk(await sk!.inspect(docker('acme/app:anyuser')), 'inspect with stored credentials');
      assertOk(await sk!.logout(stack!.host), 'logout');
      const r = await tokenRequest(stack!.purser.url, gh(jwt, 'whoever'), {
        service: SERVICE,
        scope: 'repository:acme/app:push',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(decodeJwt(String(r.body.token)).payload.sub, 'github/acme/app');
    }),
  );

  test(
    'a static username with a JWT password is checked as that static user (documented order)',
    withLogs(logs, async () => {
      const jwt = await issuer!.github({ repository: 'acme/app' });
      const r = await tokenRequest(stack!.purser.url, gh(jwt, ALICE.username), {
        service: SERVICE,
        scope: 'repository:acme/app:pull',
      });
      assert.equal(r.status, 401);
      assert.match(errorMessage(r.body), /invalid username or password/);
    }),
  );

  test(
    "the provider's when: a repository of another owner is refused at login",
    withLogs(logs, async () => {
      const jwt = await issuer!.github({ repository: 'evil/app', aud: 'https://github.com/acme' });
      const r = await tokenRequest(stack!.purser.url, gh(jwt), {
        service: SERVICE,
        scope: 'repository:evil/app:pull',
      });
      assert.equal(r.status, 401);
      assert.match(errorMessage(r.body), /condition/);
      assertFails(
        await sk!.copy(img.ref, docker('evil/app:v1'), { dest: gh(jwt) }),
        /unauthorized|denied|invalid/i,
        'push',
      );
    }),
  );

  test(
    'a glob character in a claim never widens the rule (matched literally)',
    withLogs(logs, async () => {
      const jwt = await issuer!.github({ repository: 'acme/*', ref: 'refs/heads/main' });
      const r = await tokenRequest(stack!.purser.url, gh(jwt), {
        service: SERVICE,
        scope: 'repository:acme/app:pull,push',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(decodeJwt(String(r.body.token)).payload.access, []);
    }),
  );
});
