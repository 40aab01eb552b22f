// Presets (Kubernetes, GitLab, GitHub Actions with the issuer overridden), a real third-party
// issuer (npm oidc-provider), and long jobs outliving their CI JWT through refresh tokens.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import {
  decodeJwt,
  errorMessage,
  now,
  TestIssuer,
  tokenPost,
  tokenRequest,
  waitFor,
} from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { type RealIssuer, startRealIssuer } from '../helpers/oidc-provider.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { SERVICE } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

type Access = { type: string; name: string; actions: string[] }[];

const sorted = (a: unknown): Access =>
  ((a ?? []) as Access)
    .map((x) => ({ ...x, actions: [...x.actions].sort() }))
    .sort((x, y) => x.name.localeCompare(y.name));

describe('presets, a real issuer, long jobs', { timeout: 60_000 }, () => {
  let k8s: TestIssuer;
  let gitlab: TestIssuer;
  let gh: TestIssuer;
  let op: RealIssuer;
  let purser: Purser | undefined;
  let dir: string;
  const logs = () => (purser ? [{ name: 'purser', logs: purser.logs }] : []);

  /** GET /token; expects 200 and returns the decoded token payload and the body. */
  async function grant(
    username: string,
    jwt: string,
    scope: string | string[],
    extra: Record<string, string> = {},
  ) {
    const r = await tokenRequest(
      purser!.url,
      { username, password: jwt },
      { service: SERVICE, scope, ...extra },
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { payload: decodeJwt(String(r.body.token)).payload, body: r.body };
  }

  before(async () => {
    [k8s, gitlab, gh] = await Promise.all([TestIssuer.start(), TestIssuer.start(), TestIssuer.start()]);
    op = await startRealIssuer({ audience: SERVICE });
    dir = makeTempDir('purser-oidc-presets-');
    const keys = await generateKeys(dir, 'ES256');
    purser = await startPurser({
      token: { issuer: 'purser', service: SERVICE, key: keys.key, certificate: keys.crt },
      auth: { anonymous: false, failedLogins: { max: 100_000 } },
      providers: [
        { name: 'k8s', preset: 'kubernetes', issuer: k8s.url, audience: SERVICE },
        { name: 'gitlab', preset: 'gitlab', issuer: gitlab.url, audience: 'https://gitlab.example' },
        { name: 'op', issuer: op.url, audience: SERVICE },
        {
          name: 'github',
          preset: 'github-actions',
          issuer: gh.url,
          audience: SERVICE,
          clockSkew: 0,
          refreshTokenLifetime: 3600,
        },
        {
          name: 'github-short',
          preset: 'github-actions',
          issuer: gh.url,
          audience: 'short.test',
          clockSkew: 0,
        },
      ],
      acl: [
        { match: { provider: 'k8s', type: 'repository', name: '${labels.namespace}/*' }, actions: ['pull'] },
        { match: { provider: 'gitlab', type: 'repository', name: '${account}' }, actions: ['pull', 'push'] },
        {
          match: { provider: 'gitlab', type: 'repository', name: '${labels.namespace}/*' },
          when: 'claims.ref_protected == "true"',
          actions: ['pull'],
        },
        { match: { provider: 'op', type: 'repository', name: 'ci/*' }, actions: ['pull', 'push'] },
        {
          match: { provider: 'github*', type: 'repository', name: '${claims.repository}' },
          actions: ['pull', 'push'],
        },
      ],
    });
    await waitFor(
      () => k8s.hits.jwks >= 1 && gitlab.hits.jwks >= 1 && gh.hits.jwks >= 1,
      'start-up key fetches',
    );
  });
  after(async () => {
    await purser?.stop();
    await Promise.all([k8s?.close(), gitlab?.close(), gh?.close(), op?.close()]);
    removeDir(dir);
  });

  test(
    'kubernetes preset: ${labels.namespace}/* grants pull in its own namespace only',
    withLogs(logs, async () => {
      const jwt = await k8s.kubernetes('team-a', 'builder', { aud: [SERVICE] });
      const { payload } = await grant('k8s', jwt, [
        'repository:team-a/app:pull,push',
        'repository:team-b/app:pull',
        'repository:team-a-evil/app:pull',
      ]);
      assert.equal(payload.sub, 'system:serviceaccount:team-a:builder');
      assert.deepEqual(sorted(payload.access), [
        { type: 'repository', name: 'team-a/app', actions: ['pull'] },
      ]);
      // By issuer too (a pod's token with any username).
      const other = await k8s.kubernetes('team-b', 'deployer', { aud: SERVICE });
      const b = await grant('anything', other, ['repository:team-b/web:pull', 'repository:team-a/app:pull']);
      assert.equal(b.payload.sub, 'system:serviceaccount:team-b:deployer');
      assert.deepEqual(sorted(b.payload.access), [
        { type: 'repository', name: 'team-b/web', actions: ['pull'] },
      ]);
    }),
  );

  test(
    'gitlab preset with the issuer overridden: account is claims.project_path',
    withLogs(logs, async () => {
      const jwt = await gitlab.gitlab({ project_path: 'group/project' });
      const { payload } = await grant('gitlab', jwt, [
        'repository:group/project:pull,push',
        'repository:group/other:pull,push',
        'repository:elsewhere/x:pull',
      ]);
      assert.equal(payload.sub, 'group/project');
      assert.deepEqual(sorted(payload.access), [
        { type: 'repository', name: 'group/other', actions: ['pull'] },
        { type: 'repository', name: 'group/project', actions: ['pull', 'push'] },
      ]);
      // An unprotected ref: only its own project.
      const unprotected = await gitlab.gitlab({
        project_path: 'group/project',
        ref: 'wip',
        ref_protected: 'false',
      });
      const u = await grant('gitlab', unprotected, ['repository:group/other:pull']);
      assert.deepEqual(u.payload.access, []);
      // GitLab's default issuer is not this one: a token for the wrong audience is refused.
      const r = await tokenRequest(
        purser!.url,
        { username: 'gitlab', password: await gitlab.gitlab({ aud: SERVICE }) },
        { service: SERVICE },
      );
      assert.equal(r.status, 401);
      assert.match(errorMessage(r.body), /audience/);
    }),
  );

  test(
    'a real issuer (npm oidc-provider): its JWT access token logs in through discovery + JWKS',
    withLogs(logs, async () => {
      const jwt = await op.accessToken();
      assert.equal(decodeJwt(jwt).payload.iss, op.url);
      const { payload } = await grant('op', jwt, [
        'repository:ci/app:pull,push',
        'repository:other/app:pull',
      ]);
      assert.equal(payload.sub, op.clientId);
      assert.deepEqual(sorted(payload.access), [
        { type: 'repository', name: 'ci/app', actions: ['pull', 'push'] },
      ]);
      const byIss = await grant('docker', await op.accessToken(), 'repository:ci/app:pull');
      assert.equal(byIss.payload.sub, op.clientId);
      assert.ok(
        (op.hits.get('/.well-known/openid-configuration') ?? 0) >= 1,
        'discovery was fetched from oidc-provider',
      );
      assert.ok((op.hits.get('/jwks') ?? 0) >= 1, 'the JWKS was fetched from oidc-provider');
    }),
  );

  test(
    'long jobs: a refresh token outlives the CI JWT, and each refresh re-runs the ACL',
    withLogs(logs, async () => {
      const exp = now() + 3;
      const jwt = await gh.github({ repository: 'acme/app', aud: SERVICE, exp });
      const login = await grant('github', jwt, 'repository:acme/app:pull,push', { offline_token: 'true' });
      const refresh = String(login.body.refresh_token ?? '');
      assert.ok(refresh.length > 0, `no refresh_token in ${JSON.stringify(login.body)}`);
      assert.equal(login.payload.sub, 'acme/app');
      // docker's POST form asks the same way (access_type=offline).
      const post = await tokenPost(purser!.url, {
        grant_type: 'password',
        username: 'github',
        password: jwt,
        access_type: 'offline',
        client_id: 'docker',
        service: SERVICE,
        scope: 'repository:acme/app:pull,push',
      });
      assert.equal(post.status, 200, JSON.stringify(post.body));
      assert.ok(post.body.refresh_token, 'POST access_type=offline gives a refresh token');

      // Let the JWT expire (clockSkew 0).
      while (now() <= exp) await new Promise((r) => setTimeout(r, 200));
      const expired = await tokenRequest(
        purser!.url,
        { username: 'github', password: jwt },
        { service: SERVICE, scope: 'repository:acme/app:push' },
      );
      assert.equal(expired.status, 401);
      assert.match(errorMessage(expired.body), /expired/);

      const r = await tokenPost(purser!.url, {
        grant_type: 'refresh_token',
        refresh_token: refresh,
        client_id: 'docker',
        service: SERVICE,
        scope: ['repository:acme/app:pull,push', 'repository:other/app:pull,push'],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const p = decodeJwt(String(r.body.access_token)).payload;
      assert.equal(p.sub, 'acme/app');
      assert.deepEqual(sorted(p.access), [
        { type: 'repository', name: 'acme/app', actions: ['pull', 'push'] },
      ]);
    }),
  );

  test(
    'long jobs: a provider with refreshTokenLifetime 0 gives no refresh token',
    withLogs(logs, async () => {
      const jwt = await gh.github({ repository: 'acme/app', aud: 'short.test' });
      const { body, payload } = await grant('github-short', jwt, 'repository:acme/app:pull', {
        offline_token: 'true',
      });
      assert.equal(body.refresh_token, undefined);
      assert.equal(payload.sub, 'acme/app');
      const post = await tokenPost(purser!.url, {
        grant_type: 'password',
        username: 'github-short',
        password: jwt,
        access_type: 'offline',
        service: SERVICE,
      });
      assert.equal(post.status, 200, JSON.stringify(post.body));
      assert.equal(post.body.refresh_token, undefined);
    }),
  );

  test(
    'a refresh token is bound to its provider: a forged or altered one is refused',
    withLogs(logs, async () => {
      const jwt = await gh.github({ repository: 'acme/app', aud: SERVICE });
      const { body } = await grant('github', jwt, 'repository:acme/app:pull', { offline_token: 'true' });
      const rt = String(body.refresh_token);
      const [h, p, s] = rt.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      const altered = `${h}.${Buffer.from(JSON.stringify({ ...claims, clm: { ...(claims.clm as object), repository: 'other/app' } })).toString('base64url')}.${s}`;
      const r = await tokenPost(purser!.url, {
        grant_type: 'refresh_token',
        refresh_token: altered,
        service: SERVICE,
        scope: 'repository:other/app:push',
      });
      assert.equal(r.status, 401, JSON.stringify(r.body));
      // A workload JWT is not a refresh token.
      const r2 = await tokenPost(purser!.url, {
        grant_type: 'refresh_token',
        refresh_token: jwt,
        service: SERVICE,
        scope: 'repository:acme/app:push',
      });
      assert.equal(r2.status, 401, JSON.stringify(r2.body));
    }),
  );

  // Last: it changes the configuration.
  test(
    'a refresh re-runs the current ACL: after a reload that makes the rule pull-only, push is no longer granted',
    withLogs(logs, async () => {
      const jwt = await gh.github({ repository: 'acme/app', aud: SERVICE });
      const { body } = await grant('github', jwt, 'repository:acme/app:pull,push', { offline_token: 'true' });
      const refresh = String(body.refresh_token);
      const cfg = parse(readFileSync(purser!.configPath, 'utf8')) as {
        acl: { match: { provider?: string }; actions: string[] }[];
      };
      for (const rule of cfg.acl) if (rule.match.provider === 'github*') rule.actions = ['pull'];
      writeFileSync(purser!.configPath, stringify(cfg));
      const reloads = purser!.logs().split('configuration reloaded').length;
      purser!.proc.child.kill('SIGHUP');
      await waitFor(
        () => purser!.logs().split('configuration reloaded').length > reloads,
        'the reload',
        10_000,
      );
      const r = await tokenPost(purser!.url, {
        grant_type: 'refresh_token',
        refresh_token: refresh,
        service: SERVICE,
        scope: 'repository:acme/app:pull,push',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(decodeJwt(String(r.body.token)).payload.access, [
        { type: 'repository', name: 'acme/app', actions: ['pull'] },
      ]);
    }),
  );
});
