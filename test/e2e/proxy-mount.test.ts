// A permitted cross-repository mount through the proxy is a real mount (201), in every upstream
// mode, as it is against the registry directly (issue 8); one the caller may not pull from
// stays a plain upload.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withLogs } from '../helpers/logs.js';
import {
  ALICE,
  basic,
  CAROL,
  type ProxyStack,
  SERVICE,
  startProxyStack,
  type UpstreamMode,
} from '../helpers/proxy.js';
import { uploadBlob } from '../helpers/registry-api.js';

const TIMEOUT = 120_000;

for (const mode of ['none', 'basic', 'token', 'bearer'] as const satisfies readonly UpstreamMode[]) {
  describe(`proxy mounts, upstreamAuth ${mode}`, { timeout: TIMEOUT }, () => {
    let st: ProxyStack;
    before(async () => {
      st = await startProxyStack({ upstream: mode });
    });
    after(async () => {
      await st?.stop();
    });
    const logs = () => st?.logSources() ?? [];

    // A docker client's token for a mount: push on the target, pull on the source (registry-clients.md).
    const bearer = async (who: { username: string; password: string }, to: string, from: string) => {
      const u = new URL(`${st.proxyUrl}/token`);
      u.searchParams.set('service', SERVICE);
      u.searchParams.append('scope', `repository:${to}:pull,push`);
      u.searchParams.append('scope', `repository:${from}:pull`);
      const res = await fetch(u, { headers: { authorization: basic(who) } });
      const { token } = (await res.json()) as { token: string };
      return `Bearer ${token}`;
    };
    const mount = async (authorization: string, to: string, from: string, d: string) => {
      const res = await fetch(`${st.proxyUrl}/v2/${to}/blobs/uploads/?mount=${d}&from=${from}`, {
        method: 'POST',
        headers: { authorization },
      });
      await res.arrayBuffer();
      return res;
    };
    const head = async (who: { username: string; password: string }, repo: string, d: string) => {
      const res = await fetch(`${st.proxyUrl}/v2/${repo}/blobs/${d}`, {
        method: 'HEAD',
        headers: { authorization: basic(who) },
      });
      return res.status;
    };

    test(
      'a permitted mount answers 201 with the blob in place; without pull on the source, Basic is a plain upload and a token gets 401 insufficient_scope',
      withLogs(logs, async () => {
        const auth = { authorization: basic(ALICE) };
        const d = await uploadBlob(st.proxyUrl, 'team/src', `layer for ${mode} ${Date.now()}`, auth);
        for (const [how, authorization, to] of [
          ['basic', basic(ALICE), 'team/dst'],
          ['bearer', await bearer(ALICE, 'team/dst2', 'team/src'), 'team/dst2'],
        ] as const) {
          const ok = await mount(authorization, to, 'team/src', d);
          assert.equal(ok.status, 201, `alice (${how}) mounts team/src into ${to} (${mode})`);
          assert.match(ok.headers.get('location') ?? '', new RegExp(`/v2/${to}/blobs/${d}$`));
          assert.equal(await head(ALICE, to, d), 200);
        }

        // carol may push carol/* but not pull team/*. With Basic credentials Purser decides,
        // and the mount becomes a plain upload.
        const plain = await mount(basic(CAROL), 'carol/dst', 'team/src', d);
        assert.equal(plain.status, 202, `carol's (basic) mount from team/src (${mode})`);
        assert.equal(await head(CAROL, 'carol/dst', d), 404);
        // Her token lacks team/src:pull: 401 insufficient_scope naming it, as the registry
        // answers, so a client asks for that scope instead of re-uploading the layer.
        const refused = await mount(
          await bearer(CAROL, 'carol/dst2', 'team/src'),
          'carol/dst2',
          'team/src',
          d,
        );
        assert.equal(refused.status, 401, `carol's (bearer) mount from team/src (${mode})`);
        const challenge = refused.headers.get('www-authenticate') ?? '';
        assert.match(challenge, /error="insufficient_scope"/);
        assert.match(challenge, /scope="repository:carol\/dst2:pull,push repository:team\/src:pull"/);
        assert.equal(await head(CAROL, 'carol/dst2', d), 404);
      }),
    );
  });
}
