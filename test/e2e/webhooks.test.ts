// skopeo through Purser and the real registry (distribution 2.8), with identities and access
// from HTTPS webhooks on loopback (a test CA): a webhook-authenticated user pulls, a
// webhook-authorised pull works for one repository and not another, and slow or failing
// webhooks give the documented outcome (authn: 503; authz: no access).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { ALICE, type Stack, startStack } from '../helpers/stack.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import { type ReceivedCall, startWebhookServer, type WebhookServer } from '../helpers/webhook-server.js';

const TIMEOUT = 180_000;
const SECRET = 'e2e-webhook-secret-0123456789abcdefghij';
const V = 'purser.dev/v1';
const CAROL = { username: 'carol', password: 'carol-webhook-pw' } as const;

type Handler = (call: ReceivedCall, res: ServerResponse) => unknown;

/** The identity service: carol with her password; everyone else refused. */
const authn: Handler = (call) =>
  call.body.username === CAROL.username && call.body.password === CAROL.password
    ? {
        apiVersion: V,
        kind: 'AuthnResponse',
        allowed: true,
        identity: { account: 'carol', labels: { team: 'blue' } },
      }
    : { apiVersion: V, kind: 'AuthnResponse', allowed: false };

/** The policy service: carol may pull hooked/a and nothing in hooked/b; others are the ACL's. */
const authz: Handler = (call) => {
  const identity = call.body.identity as { account: string; provider: string };
  const scopes = call.body.scopes as { type: string; name: string }[];
  return {
    apiVersion: V,
    kind: 'AuthzResponse',
    scopes: scopes.map((s) => ({
      type: s.type,
      name: s.name,
      actions:
        identity.provider !== 'webhook'
          ? null
          : s.name === 'hooked/a'
            ? ['pull']
            : s.name === 'hooked/b'
              ? []
              : null,
    })),
  };
};

const slow: Handler = () => new Promise((r) => setTimeout(() => r({}), 8000));
const failing: Handler = (_c, res) => void res.writeHead(500).end('{"error":"boom"}');

describe('webhooks with skopeo and the real registry', { timeout: TIMEOUT }, () => {
  let stack: Stack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  let authnHook: WebhookServer;
  let authzHook: WebhookServer;
  const dirs: string[] = [];
  const logs = () => stack?.logSources() ?? [];
  const docker = (repo: string): string => `docker://${stack!.host}/${repo}`;
  const pull = async (repo: string, creds: { username: string; password: string }) => {
    const out = makeTempDir('purser-oci-out-');
    dirs.push(out);
    return { out, r: await sk!.copy(docker(repo), `oci:${out}:v1`, { src: creds }) };
  };

  before(async () => {
    const caDir = makeTempDir('purser-webhook-ca-');
    dirs.push(caDir);
    const ca = makeTestCa(caDir);
    authnHook = await startWebhookServer(ca, SECRET, authn);
    authzHook = await startWebhookServer(ca, SECRET, authz);
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    const hook = (url: string) => ({
      url,
      secret: '${env:PURSER_WEBHOOK_SECRET}',
      ca: ca.caFile,
      timeout: 3, // generous: a loaded machine must not turn a good answer into a timeout
    });
    process.env.PURSER_WEBHOOK_SECRET = SECRET;
    stack = await startStack({
      acl: [{ match: { account: 'alice' }, actions: ['*'] }],
      // Authz answers are not cached here, so an outage shows at the next request (the
      // cache and its TTL are the unit tests').
      extra: { webhooks: { authn: hook(authnHook.url), authz: { ...hook(authzHook.url), cacheSeconds: 0 } } },
    });
    for (const repo of ['hooked/a:v1', 'hooked/b:v1'])
      assertOk(await sk.copy(img.ref, docker(repo), { dest: ALICE }), `alice pushes ${repo}`);
  });
  after(async () => {
    await stack?.stop();
    await authnHook?.close();
    await authzHook?.close();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });
  beforeEach(() => {
    authnHook.handler = authn;
    authzHook.handler = authz;
  });

  test(
    'carol, known only to the webhook, pulls hooked/a and is refused hooked/b',
    withLogs(logs, async () => {
      const a = await pull('hooked/a:v1', CAROL);
      assertOk(a.r, 'carol pulls hooked/a');
      assert.equal(readLayoutDigest(a.out, 'v1'), img.manifestDigest);
      assertFails((await pull('hooked/b:v1', CAROL)).r, NO_ACCESS, 'carol pulls hooked/b');
      assertFails(
        await sk!.copy(img.ref, docker('hooked/a:carol'), { dest: CAROL }),
        NO_ACCESS,
        'carol pushes',
      );
      assert.ok(authnHook.calls.length > 0 && authnHook.calls.every((c) => c.signatureValid), 'signed calls');
      assert.ok(
        authnHook.calls.every((c) => c.body.username !== ALICE.username),
        'a static user was sent to the webhook',
      );
      assert.ok(
        authzHook.calls.every((c) => !c.raw.includes(CAROL.password)),
        'the password reached authz',
      );
    }),
  );

  test(
    'a wrong password is refused as one',
    withLogs(logs, async () => {
      assertFails(
        (await pull('hooked/a:v1', { ...CAROL, password: 'nope' })).r,
        /invalid username\/password|unauthorized/i,
      );
    }),
  );

  test(
    'authn webhook slow or failing: 503 for webhook users; static users unaffected',
    withLogs(logs, async () => {
      for (const h of [slow, failing]) {
        authnHook.handler = h;
        // A new password, so no cached answer stands in for the webhook.
        const r = (
          await pull('hooked/a:v1', { ...CAROL, password: `${CAROL.password}-${authnHook.calls.length}` })
        ).r;
        assertFails(r, /503|unavailable/i, 'carol pulls while the authn webhook is out');
        assertOk((await pull('hooked/a:v1', ALICE)).r, 'alice pulls while the authn webhook is out');
      }
      assert.match(stack!.purser.logs(), /the authentication webhook is unavailable/);
      assert.ok(!stack!.purser.logs().includes(SECRET), 'the secret is in a log line');
    }),
  );

  test(
    'authz webhook slow or failing: no access (fail closed), logged by name; back up, access returns',
    withLogs(logs, async () => {
      for (const h of [slow, failing]) {
        authzHook.handler = h;
        // alice's scopes are asked of the webhook first too (order before-acl).
        assertFails(
          (await pull('hooked/a:v1', ALICE)).r,
          NO_ACCESS,
          'alice pulls while the authz webhook is out',
        );
      }
      assert.match(stack!.purser.logs(), /the authorization webhook failed[^\n]*webhooks\.authz/);
      authzHook.handler = authz;
      assertOk((await pull('hooked/a:v1', ALICE)).r, 'alice pulls once the webhook is back');
    }),
  );
});
