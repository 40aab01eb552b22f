// End to end: skopeo configured with `credHelpers` runs docker-credential-purser, which gets a
// GitHub-shaped ID token from a loopback ID-token endpoint (same request and answer as
// GitHub's), signed by a loopback OIDC issuer that Purser trusts; skopeo pushes to the real
// registry (distribution) through Purser. The ID tokens live 6 s and Purser allows no clock
// skew: a second push after the first token expired works only because the helper fetched a
// new one. Then the same through the GitHub Action (actions/login/dist/index.mjs), main and post.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ACTION_NODE } from '../helpers/action-node.js';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { decodeJwt, now, TestIssuer, tokenRequest } from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage } from '../helpers/oci.js';
import { repoRoot } from '../helpers/paths.js';
import { describeRun, run } from '../helpers/proc.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { SERVICE, type Stack, startStack } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;
const LIFETIME = 6; // seconds: the helper reuses a token for half of it, then fetches a new one
const AUDIENCE = 'purser.e2e';
const REPOSITORY = 'acme/app';

/** GitHub's ID-token endpoint, minting tokens from the loopback issuer. */
interface IdTokenEndpoint {
  url: string;
  requestToken: string;
  issued: string[];
  close(): Promise<void>;
}

async function startIdTokenEndpoint(issuer: TestIssuer): Promise<IdTokenEndpoint> {
  const ep: IdTokenEndpoint = {
    url: '',
    requestToken: `rt-${Math.random().toString(36).slice(2)}`,
    issued: [],
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const audience = u.searchParams.get('audience');
    if (
      req.method !== 'GET' ||
      req.headers.authorization?.toLowerCase() !== `bearer ${ep.requestToken}`.toLowerCase()
    ) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"bad request token"}');
      return;
    }
    const t = now();
    issuer
      .github({
        repository: REPOSITORY,
        aud: audience ?? `https://github.com/acme`,
        iat: t,
        nbf: t,
        exp: t + LIFETIME,
      })
      .then((jwt) => {
        ep.issued.push(jwt);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: jwt }));
      })
      .catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ep.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_apis/distributedtask/idtoken?api-version=2.0`;
  ep.close = () => new Promise<void>((r) => server.close(() => r()));
  return ep;
}

describe('docker-credential-purser with skopeo, Purser and the real registry', { timeout: TIMEOUT }, () => {
  let issuer: TestIssuer | undefined;
  let ep: IdTokenEndpoint | undefined;
  let stack: Stack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  let dir: string;
  let binDir: string;
  const logs = () => stack?.logSources() ?? [];
  const dest = (ref: string): string => `docker://${stack!.host}/${ref}`;

  before(async () => {
    dir = makeTempDir('purser-credhelper-e2e-');
    issuer = await TestIssuer.start();
    ep = await startIdTokenEndpoint(issuer);
    stack = await startStack({
      acl: [
        {
          match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
          actions: ['pull', 'push'],
        },
      ],
      extra: {
        providers: [
          { name: 'github', preset: 'github-actions', issuer: issuer.url, audience: AUDIENCE, clockSkew: 0 },
        ],
      },
    });
    img = await buildOciImage({ tag: 'v1' });
    sk = createSkopeo();
    // docker-credential-purser on PATH, as `npm install -g purser` would put it.
    binDir = join(dir, 'bin');
    mkdirSync(binDir);
    const helper = join(binDir, 'docker-credential-purser');
    writeFileSync(
      helper,
      `#!/bin/sh\necho "$1" >> '${join(dir, 'calls.log')}'\nexec '${process.execPath}' '${join(repoRoot, 'bin', 'docker-credential-purser.js')}' "$@"\n`,
    );
    chmodSync(helper, 0o755);
    const config = join(dir, 'credhelper.json');
    writeFileSync(
      config,
      JSON.stringify({
        registries: { [stack.host]: { provider: 'github', audience: AUDIENCE, source: 'github' } },
        cacheDir: join(dir, 'cache'),
      }),
    );
    Object.assign(sk.env, {
      PATH: `${binDir}:${process.env.PATH}`,
      PURSER_CREDHELPER_CONFIG: config,
      ACTIONS_ID_TOKEN_REQUEST_URL: ep.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: ep.requestToken,
    });
  });
  after(async () => {
    await stack?.stop();
    await ep?.close();
    await issuer?.close();
    sk?.cleanup();
    if (img) removeDir(img.dir);
    if (dir) removeDir(dir);
  });

  test(
    'push, then after the first ID token expired a second push works with a new one',
    withLogs(logs, async () => {
      const s = sk!;
      writeFileSync(s.authFile, JSON.stringify({ credHelpers: { [stack!.host]: 'purser' } }));

      const t0 = Date.now();
      assertOk(await s.copy(img.ref, dest(`${REPOSITORY}:v1`)), 'first push');
      const firstMs = Date.now() - t0;
      assert.equal(ep!.issued.length, 1, `one ID token for the first push (took ${firstMs} ms)`);
      const first = ep!.issued[0]!;
      const { payload } = decodeJwt(first);
      assert.equal(payload.aud, AUDIENCE);

      // Wait until the first token has expired; Purser (clockSkew 0) now refuses it.
      const exp = payload.exp as number;
      await new Promise((r) => setTimeout(r, Math.max(0, (exp + 1) * 1000 - Date.now())));
      const stale = await tokenRequest(
        stack!.purser.url,
        { username: 'github', password: first },
        { service: SERVICE, scope: `repository:${REPOSITORY}:pull,push` },
      );
      assert.equal(stale.status, 401, 'the first ID token is no longer accepted');

      assertOk(await s.copy(img.ref, dest(`${REPOSITORY}:v2`)), 'second push after expiry');
      assert.equal(ep!.issued.length, 2, 'the helper fetched exactly one new ID token');
      assert.notEqual(ep!.issued[1], first);

      const tags = await s.listTags(dest(REPOSITORY));
      assertOk(tags, 'list-tags');
      assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags.sort(), ['v1', 'v2']);
    }),
  );

  test(
    'the token only grants its own repository',
    withLogs(logs, async () => {
      const s = sk!;
      writeFileSync(s.authFile, JSON.stringify({ credHelpers: { [stack!.host]: 'purser' } }));
      assertFails(await s.copy(img.ref, dest('other/app:v1')), NO_ACCESS, 'push to another repository');
    }),
  );

  test(
    'a registry the helper does not know: skopeo falls back to no credentials (the protocol message)',
    withLogs(logs, async () => {
      const s = sk!;
      const config = join(dir, 'empty.json');
      writeFileSync(config, '{"registries": {}}');
      writeFileSync(s.authFile, JSON.stringify({ credHelpers: { [stack!.host]: 'purser' } }));
      const saved = s.env.PURSER_CREDHELPER_CONFIG;
      s.env.PURSER_CREDHELPER_CONFIG = config;
      const calls = join(dir, 'calls.log');
      writeFileSync(calls, '');
      try {
        const r = await s.copy(img.ref, dest(`${REPOSITORY}:v3`));
        assert.match(readFileSync(calls, 'utf8'), /^get$/m, 'skopeo asked the helper');
        assertFails(r, NO_ACCESS, 'anonymous push');
        assert.doesNotMatch(
          `${r.stderr}${r.stdout}`,
          /error getting credentials/,
          'not found is not an error',
        );
      } finally {
        s.env.PURSER_CREDHELPER_CONFIG = saved;
      }
    }),
  );

  test(
    'the GitHub Action installs the helper in the docker config; skopeo pushes; the post step removes it',
    withLogs(logs, async () => {
      const s = sk!;
      const job = join(dir, 'job');
      const home = join(job, 'home');
      mkdirSync(home, { recursive: true });
      mkdirSync(join(job, 'runner-temp'));
      const files = {
        GITHUB_OUTPUT: join(job, 'output'),
        GITHUB_STATE: join(job, 'state'),
        GITHUB_PATH: join(job, 'path'),
      };
      const jobEnv: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: home,
        RUNNER_TEMP: join(job, 'runner-temp'),
        ...files,
        ACTIONS_ID_TOKEN_REQUEST_URL: ep!.url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: ep!.requestToken,
      };
      const action = join(repoRoot, 'actions', 'login', 'dist', 'index.mjs');
      const main = await run(ACTION_NODE, [action], {
        env: { ...jobEnv, INPUT_REGISTRY: stack!.host, INPUT_AUDIENCE: AUDIENCE },
        cwd: job,
      });
      assert.equal(main.code, 0, describeRun(main));
      const dockerConfig = join(home, '.docker', 'config.json');
      assert.deepEqual(JSON.parse(readFileSync(dockerConfig, 'utf8')), {
        credHelpers: { [stack!.host]: 'purser' },
      });

      // A later step: PATH has the action's helper dir; skopeo reads the docker config.
      const actionBin = readFileSync(files.GITHUB_PATH, 'utf8').trim();
      const saved = { ...s.env };
      Object.assign(s.env, { PATH: `${actionBin}:${process.env.PATH}`, HOME: home });
      delete s.env.PURSER_CREDHELPER_CONFIG; // the action's wrapper names its own config
      try {
        assertOk(
          await s.raw([
            'copy',
            '--authfile',
            dockerConfig,
            '--dest-tls-verify=false',
            img.ref,
            dest(`${REPOSITORY}:action`),
          ]),
          'push after the action',
        );
      } finally {
        for (const k of Object.keys(s.env)) delete s.env[k];
        Object.assign(s.env, saved);
      }

      const state: NodeJS.ProcessEnv = {};
      const text = readFileSync(files.GITHUB_STATE, 'utf8');
      for (const m of text.matchAll(/^([^<\n]+)<<(.+)\n([\s\S]*?)\n\2$/gm)) state[`STATE_${m[1]}`] = m[3];
      const post = await run(ACTION_NODE, [action], { env: { ...jobEnv, ...state }, cwd: job });
      assert.equal(post.code, 0, describeRun(post));
      assert.equal(existsSync(dockerConfig), false, 'the docker config the action created is gone');
      assert.equal(existsSync(actionBin), false, 'and so is the helper');
    }),
  );
});
