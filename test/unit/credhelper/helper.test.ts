// docker-credential-purser: configuration, the credential helper protocol, token sources
// (GitHub against a loopback ID-token endpoint shaped like GitHub's, GitLab, Kubernetes,
// command, auto) and the on-disk token cache.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { loadConfig, parseConfig } from '../../../clients/src/credhelper/config.js';
import {
  MISSING_SERVER_URL_MESSAGE,
  NOT_FOUND_MESSAGE,
  runHelper,
} from '../../../clients/src/credhelper/protocol.js';
import type { Env } from '../../../clients/src/env.js';
import { isFresh } from '../../../clients/src/jwt.js';
import { normaliseRegistry, registryHost } from '../../../clients/src/registry.js';
import { DEFAULT_KUBERNETES_TOKEN } from '../../../clients/src/sources/source.js';
import { VERSION } from '../../../clients/src/version.js';
import { repoRoot } from '../../helpers/paths.js';
import { describeRun, run } from '../../helpers/proc.js';
import { tempDir } from '../support.js';

const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An unsigned JWT: the helper never verifies, it only reads `exp`, `iat` and `aud`. */
const jwt = (claims: Record<string, unknown>): string =>
  `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;

// ---------- a GitHub-like ID token endpoint on loopback ----------

interface IdTokenEndpoint {
  /** ACTIONS_ID_TOKEN_REQUEST_URL: has a query already, as GitHub's does. */
  url: string;
  requestToken: string;
  hits: { audience: string | null; authorization: string | undefined; accept: string | undefined }[];
  /** Status to answer with next (then back to 200). */
  failNext: number[];
  /** claims for the next token: defaults iat now, exp now+300. */
  claims: (audience: string) => Record<string, unknown>;
  close(): Promise<void>;
}

async function startIdTokenEndpoint(): Promise<IdTokenEndpoint> {
  const ep: IdTokenEndpoint = {
    url: '',
    requestToken: `req-${Math.random().toString(36).slice(2)}`,
    hits: [],
    failNext: [],
    claims: (audience) => ({
      iss: 'https://token.actions.example',
      aud: audience,
      iat: now(),
      exp: now() + 300,
      sub: 'repo:acme/app',
    }),
    close: async () => {},
  };
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const audience = u.searchParams.get('audience');
    ep.hits.push({ audience, authorization: req.headers.authorization, accept: req.headers.accept });
    const fail = ep.failNext.shift();
    if (fail !== undefined) {
      res.writeHead(fail, { 'content-type': 'application/json' }).end('{"message":"nope"}');
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (req.method !== 'GET' || u.pathname !== '/idtoken' || u.searchParams.get('api-version') !== '2.0') {
      res.writeHead(404).end();
      return;
    }
    if (auth.toLowerCase() !== `bearer ${ep.requestToken}`.toLowerCase()) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"bad request token"}');
      return;
    }
    const body = JSON.stringify({ value: jwt({ ...ep.claims(audience ?? ''), jti: String(++n) }) });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ep.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/idtoken?api-version=2.0`;
  ep.close = () => new Promise<void>((r) => server.close(() => r()));
  return ep;
}

// ---------- running the helper in-process ----------

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function helper(args: string[], env: Env, stdin = ''): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await runHelper(args, {
    readStdin: async () => stdin,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
  });
  return { code, stdout, stderr };
}

const creds = (r: Result): { ServerURL: string; Username: string; Secret: string } => {
  assert.equal(r.code, 0, `helper failed: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout) as { ServerURL: string; Username: string; Secret: string };
};

describe('registry names', () => {
  test('normalised: scheme, path, trailing slashes and case dropped', () => {
    assert.equal(normaliseRegistry('registry.example.com'), 'registry.example.com');
    assert.equal(normaliseRegistry('https://Registry.Example.com/'), 'registry.example.com');
    assert.equal(normaliseRegistry('http://127.0.0.1:5000//'), '127.0.0.1:5000');
    assert.equal(normaliseRegistry('  https://index.docker.io/v1/\n'), 'index.docker.io');
    assert.equal(normaliseRegistry('[::1]:5000'), '[::1]:5000');
  });
  test('the default audience is the host without port', () => {
    assert.equal(registryHost('registry.example.com:5000'), 'registry.example.com');
    assert.equal(registryHost('registry.example.com'), 'registry.example.com');
    assert.equal(registryHost('[::1]:5000'), '[::1]');
  });
});

describe('configuration', () => {
  test('file entries: defaults for provider, audience and source', () => {
    const cfg = parseConfig(
      {
        registries: {
          'https://reg.example.com:5000/': { provider: 'gh', source: 'github' },
          'other.example.com': { source: { type: 'gitlab', variable: 'MY_TOKEN' }, audience: 'purser' },
          k8s: { source: { type: 'kubernetes', path: 'token' } },
          auto: {},
        },
        cacheDir: 'cache',
        refreshBefore: 30,
      },
      '/etc/purser/credhelper.json',
      {},
    );
    assert.deepEqual(cfg.registries.get('reg.example.com:5000'), {
      registry: 'reg.example.com:5000',
      provider: 'gh',
      audience: 'reg.example.com',
      source: { type: 'github' },
    });
    assert.deepEqual(cfg.registries.get('other.example.com')?.source, {
      type: 'gitlab',
      variable: 'MY_TOKEN',
    });
    assert.equal(cfg.registries.get('other.example.com')?.provider, undefined);
    assert.deepEqual(cfg.registries.get('k8s')?.source, { type: 'kubernetes', path: '/etc/purser/token' });
    assert.deepEqual(cfg.registries.get('auto')?.source, {
      type: 'auto',
      variable: 'PURSER_ID_TOKEN',
      path: DEFAULT_KUBERNETES_TOKEN,
    });
    assert.equal(cfg.cacheDir, '/etc/purser/cache');
    assert.equal(cfg.refreshBefore, 30);
  });

  test('errors name the file and key', () => {
    const bad: [unknown, RegExp][] = [
      [{ registries: { r: { source: 'vault' } } }, /registries\["r"\]\.source: unknown source "vault"/],
      [{ registries: { r: { source: 'command' } } }, /registries\["r"\]\.source\.command: required/],
      [
        { registries: { r: { source: { type: 'command', command: 'x' } } } },
        /registries\["r"\]\.provider: required/,
      ],
      [{ registries: { r: { user: 'x' } } }, /registries\["r"\]\.user: unknown key/],
      [
        { registries: { r: { source: { type: 'github', path: 'x' } } } },
        /source\.path: unknown key for source github/,
      ],
      [{ registries: { 'https://R/': {}, r: {} } }, /r is listed twice/],
      [{ registry: {} }, /f\.json: registry: unknown key/],
      [{ refreshBefore: -1 }, /refreshBefore: must be a whole number/],
    ];
    for (const [doc, re] of bad) assert.throws(() => parseConfig(doc, 'f.json', {}), re, JSON.stringify(doc));
  });

  test('environment variables add a registry over the file; a missing default file is fine', () => {
    const t = tempDir();
    try {
      const env: Env = {
        HOME: t.dir,
        PURSER_REGISTRY: 'https://a.example, b.example:5000',
        PURSER_PROVIDER: 'gitlab-ci',
        PURSER_TOKEN_SOURCE: 'gitlab',
        PURSER_TOKEN_VARIABLE: 'REG_TOKEN',
      };
      const cfg = loadConfig(env);
      assert.equal(cfg.file, undefined);
      assert.deepEqual([...cfg.registries.keys()], ['a.example', 'b.example:5000']);
      assert.deepEqual(cfg.registries.get('b.example:5000'), {
        registry: 'b.example:5000',
        provider: 'gitlab-ci',
        audience: 'b.example',
        source: { type: 'gitlab', variable: 'REG_TOKEN' },
      });
      assert.equal(cfg.cacheDir, join(t.dir, '.cache', 'purser', 'credhelper'));
      assert.throws(
        () => loadConfig({ HOME: t.dir, PURSER_CREDHELPER_CONFIG: join(t.dir, 'nope.json') }),
        /cannot read config/,
      );
      writeFileSync(join(t.dir, 'bad.json'), '{');
      assert.throws(
        () => loadConfig({ PURSER_CREDHELPER_CONFIG: join(t.dir, 'bad.json') }),
        /bad\.json: not valid JSON/,
      );
    } finally {
      t.cleanup();
    }
  });
});

describe('the credential helper protocol', () => {
  let t: ReturnType<typeof tempDir>;
  let env: Env;
  before(() => {
    t = tempDir();
    const cfg = join(t.dir, 'credhelper.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        registries: {
          'registry.example.com': { provider: 'github', source: 'github' },
          'gl.example.com:5000': { provider: 'gitlab', source: 'gitlab', audience: 'purser' },
        },
        cacheDir: 'cache',
      }),
    );
    env = { HOME: t.dir, PURSER_CREDHELPER_CONFIG: cfg };
  });
  after(() => t.cleanup());

  test('get for a registry it does not know: exit 1, stdout exactly the not-found message', async () => {
    const r = await helper(['get'], env, 'https://unknown.example.com\n');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `${NOT_FOUND_MESSAGE}\n`);
    assert.equal(NOT_FOUND_MESSAGE, 'credentials not found in native keychain');
  });

  test('get with no server URL: the protocol message', async () => {
    const r = await helper(['get'], env, '  \n');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `${MISSING_SERVER_URL_MESSAGE}\n`);
  });

  test('get for a configured registry: provider as username, the JWT as secret, ServerURL as asked', async () => {
    const token = jwt({ aud: 'purser', iat: now(), exp: now() + 600 });
    const c = creds(
      await helper(['get'], { ...env, PURSER_ID_TOKEN: token }, 'https://GL.example.com:5000/\n'),
    );
    assert.deepEqual(c, { ServerURL: 'https://GL.example.com:5000/', Username: 'gitlab', Secret: token });
  });

  test('list: configured registries to usernames', async () => {
    const r = await helper(['list'], env, 'unused');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), {
      'registry.example.com': 'github',
      'gl.example.com:5000': 'gitlab',
    });
  });

  test('store: a no-op for a configured registry, an error for any other', async () => {
    const ok = await helper(
      ['store'],
      env,
      JSON.stringify({ ServerURL: 'registry.example.com', Username: 'github', Secret: 'x' }),
    );
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, '');
    const no = await helper(
      ['store'],
      env,
      JSON.stringify({ ServerURL: 'docker.io', Username: 'me', Secret: 'x' }),
    );
    assert.equal(no.code, 1);
    assert.match(no.stderr, /stores no credentials: docker\.io is not configured/);
    assert.match(no.stdout, /stores no credentials/, 'docker shows only stdout');
    const bad = await helper(['store'], env, 'registry.example.com');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not the JSON/);
  });

  test('erase: succeeds, known or not', async () => {
    assert.equal((await helper(['erase'], env, 'registry.example.com')).code, 0);
    assert.equal((await helper(['erase'], env, 'unknown.example.com')).code, 0);
  });

  test('version, help, usage errors', async () => {
    const v = await helper(['version'], env);
    assert.equal(v.stdout, `docker-credential-purser (purser) ${VERSION}\n`);
    for (const manifest of ['package.json', join('clients', 'package.json')]) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, manifest), 'utf8')) as { version: string };
      assert.equal(VERSION, pkg.version, `VERSION in clients/src/version.ts follows ${manifest}`);
    }
    const h = await helper(['--help'], env);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: docker-credential-purser <get\|store\|erase\|list\|version>/);
    assert.equal((await helper([], env)).code, 2);
    const u = await helper(['fetch'], env);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown credential action `fetch`/);
    assert.equal((await helper(['get', 'extra'], env)).code, 2);
  });

  test('a broken config: one clear line on stderr (and stdout, which is what docker shows), exit 1', async () => {
    const cfg = join(t.dir, 'broken.json');
    writeFileSync(cfg, JSON.stringify({ registries: { r: { source: 'nope' } } }));
    const r = await helper(['get'], { ...env, PURSER_CREDHELPER_CONFIG: cfg }, 'r');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^docker-credential-purser: .*broken\.json: registries\["r"\]\.source: unknown source "nope"/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

describe('GitHub Actions source (loopback ID-token endpoint)', () => {
  let ep: IdTokenEndpoint;
  let t: ReturnType<typeof tempDir>;
  let env: Env;
  const cacheDir = (): string => join(t.dir, 'cache');
  before(async () => {
    ep = await startIdTokenEndpoint();
  });
  after(() => ep.close());
  beforeEach(() => {
    t?.cleanup();
    t = tempDir();
    ep.hits = [];
    ep.failNext = [];
    ep.claims = (audience) => ({ aud: audience, iat: now(), exp: now() + 300 });
    env = {
      HOME: t.dir,
      PURSER_CREDHELPER_CACHE: cacheDir(),
      PURSER_REGISTRY: '127.0.0.1:5000',
      PURSER_TOKEN_SOURCE: 'github',
      PURSER_AUDIENCE: 'purser.test',
      ACTIONS_ID_TOKEN_REQUEST_URL: ep.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: ep.requestToken,
    };
  });
  after(() => t?.cleanup());

  test("GitHub's request shape: GET, audience query, bearer request token; {value} answer", async () => {
    const c = creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.equal(c.Username, 'github');
    assert.equal(ep.hits.length, 1);
    assert.equal(ep.hits[0]!.audience, 'purser.test');
    assert.equal(ep.hits[0]!.authorization, `Bearer ${ep.requestToken}`);
    assert.match(ep.hits[0]!.accept ?? '', /application\/json/);
    assert.equal(JSON.parse(Buffer.from(c.Secret.split('.')[1]!, 'base64url').toString()).aud, 'purser.test');
  });

  test('cached on disk (0600 in a 0700 dir) and reused while fresh', async () => {
    const a = creds(await helper(['get'], env, '127.0.0.1:5000'));
    const b = creds(await helper(['get'], env, 'http://127.0.0.1:5000/'));
    assert.equal(ep.hits.length, 1, 'the second get used the cache');
    assert.equal(a.Secret, b.Secret);
    assert.equal(statSync(cacheDir()).mode & 0o777, 0o700);
    const files = readdirSync(cacheDir());
    assert.equal(files.length, 1);
    assert.equal(statSync(join(cacheDir(), files[0]!)).mode & 0o777, 0o600);
  });

  test('refetched within 60 s of exp', async () => {
    ep.claims = (audience) => ({ aud: audience, iat: now() - 250, exp: now() + 50 });
    creds(await helper(['get'], env, '127.0.0.1:5000'));
    creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.equal(ep.hits.length, 2, 'a token with under 60 s left is not reused');
  });

  test('a short-lived token is reused for half its life, then refetched', async () => {
    // 4 s: reused while more than 2 s are left (at least a second of real time), then refetched.
    ep.claims = (audience) => ({ aud: audience, iat: now(), exp: now() + 4 });
    const a = creds(await helper(['get'], env, '127.0.0.1:5000'));
    const b = creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.equal(a.Secret, b.Secret);
    assert.equal(ep.hits.length, 1);
    await new Promise((r) => setTimeout(r, 2_100));
    const c = creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.notEqual(c.Secret, a.Secret);
    assert.equal(ep.hits.length, 2);
  });

  test('isFresh: the margin is 60 s, at most half the lifetime', () => {
    const t0 = 1_000_000;
    assert.equal(isFresh(jwt({ iat: t0, exp: t0 + 300 }), 60, t0 + 239), true);
    assert.equal(isFresh(jwt({ iat: t0, exp: t0 + 300 }), 60, t0 + 240), false);
    assert.equal(isFresh(jwt({ exp: t0 + 300 }), 60, t0 + 239), true);
    assert.equal(isFresh(jwt({ iat: t0, exp: t0 + 10 }), 60, t0 + 4), true);
    assert.equal(isFresh(jwt({ iat: t0, exp: t0 + 10 }), 60, t0 + 5), false);
    assert.equal(isFresh(jwt({ iat: t0 }), 60, t0), false, 'no exp: never cached');
    assert.equal(isFresh('not a jwt', 60, t0), false);
  });

  test('another job (another request token) never gets this cached token', async () => {
    creds(await helper(['get'], env, '127.0.0.1:5000'));
    const other = await helper(
      ['get'],
      { ...env, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'someone-else' },
      '127.0.0.1:5000',
    );
    assert.equal(other.code, 1);
    assert.match(other.stderr, /refused: HTTP 401/);
    assert.equal(ep.hits.length, 2);
  });

  test('erase drops the cached token', async () => {
    creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.equal((await helper(['erase'], env, '127.0.0.1:5000')).code, 0);
    creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.equal(ep.hits.length, 2);
  });

  test('5xx is retried; 4xx is not', async () => {
    ep.failNext = [503];
    creds(await helper(['get'], env, '127.0.0.1:5000'));
    assert.equal(ep.hits.length, 2);
    ep.hits = [];
    ep.failNext = [403];
    const r = await helper(['get'], { ...env, PURSER_CREDHELPER_CACHE: join(t.dir, 'c2') }, '127.0.0.1:5000');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /GitHub ID token request for audience "purser.test" refused: HTTP 403/);
    assert.equal(ep.hits.length, 1);
  });

  test('without the request variables: says the workflow needs id-token: write', async () => {
    const { ACTIONS_ID_TOKEN_REQUEST_URL: _u, ACTIONS_ID_TOKEN_REQUEST_TOKEN: _t, ...rest } = env;
    const r = await helper(['get'], rest, '127.0.0.1:5000');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^docker-credential-purser: ACTIONS_ID_TOKEN_REQUEST_URL .* `permissions: id-token: write`/,
    );
    assert.doesNotMatch(r.stdout, /"Secret"/);
  });
});

describe('GitLab, Kubernetes, command and auto sources', () => {
  let t: ReturnType<typeof tempDir>;
  before(() => {
    t = tempDir();
  });
  after(() => t.cleanup());
  const base = (extra: Env): Env => ({
    HOME: t.dir,
    PURSER_CREDHELPER_CACHE: join(t.dir, 'cache'),
    PURSER_REGISTRY: 'reg.test',
    ...extra,
  });

  test('gitlab: the id_tokens variable named in config, read every time', async () => {
    const env = base({ PURSER_TOKEN_SOURCE: 'gitlab', PURSER_TOKEN_VARIABLE: 'REG_ID_TOKEN' });
    const tok = jwt({ aud: 'reg.test', exp: now() + 300 });
    assert.equal(creds(await helper(['get'], { ...env, REG_ID_TOKEN: tok }, 'reg.test')).Secret, tok);
    assert.equal(creds(await helper(['get'], { ...env, REG_ID_TOKEN: tok }, 'reg.test')).Username, 'gitlab');
    const missing = await helper(['get'], env, 'reg.test');
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /GitLab ID token variable REG_ID_TOKEN is not set: declare it in the job's id_tokens/,
    );
    const expired = await helper(['get'], { ...env, REG_ID_TOKEN: jwt({ exp: now() - 5 }) }, 'reg.test');
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /token expired at .*outlived its id_tokens token/);
    const other = await helper(
      ['get'],
      { ...env, REG_ID_TOKEN: jwt({ aud: 'elsewhere', exp: now() + 60 }) },
      'reg.test',
    );
    assert.equal(other.code, 0);
    assert.match(other.stderr, /warning: the gitlab token's aud \["elsewhere"\] does not include "reg.test"/);
  });

  test('kubernetes: the projected token file, re-read when kubelet rotates it', async () => {
    const file = join(t.dir, 'sa-token');
    const env = base({ PURSER_TOKEN_SOURCE: 'kubernetes', PURSER_TOKEN_FILE: file, PURSER_PROVIDER: 'k8s' });
    const one = jwt({ aud: 'reg.test', exp: now() + 3600, sub: 'system:serviceaccount:ci:builder' });
    writeFileSync(file, `${one}\n`);
    assert.deepEqual(
      {
        u: creds(await helper(['get'], env, 'reg.test')).Username,
        s: creds(await helper(['get'], env, 'reg.test')).Secret,
      },
      { u: 'k8s', s: one },
    );
    const two = jwt({ aud: 'reg.test', exp: now() + 3600, jti: '2' });
    writeFileSync(file, two);
    assert.equal(creds(await helper(['get'], env, 'reg.test')).Secret, two);
    const gone = await helper(['get'], { ...env, PURSER_TOKEN_FILE: join(t.dir, 'nope') }, 'reg.test');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /cannot read the Kubernetes service account token .*nope/);
  });

  test('command: a shell string or an argv list, stdout is the JWT, cached; failures explained', async () => {
    const counter = join(t.dir, 'count');
    const tok = jwt({ aud: 'reg.test', iat: now(), exp: now() + 600 });
    const script = join(t.dir, 'mint.sh');
    writeFileSync(
      script,
      `#!/bin/sh\necho x >> '${counter}'\n[ "$PURSER_AUDIENCE" = reg.test ] || exit 3\necho '${tok}'\n`,
    );
    chmodSync(script, 0o755);
    const env = base({
      PURSER_TOKEN_SOURCE: 'command',
      PURSER_TOKEN_COMMAND: `'${script}' --arg`,
      PURSER_PROVIDER: 'vault',
    });
    assert.deepEqual(creds(await helper(['get'], env, 'reg.test')).Username, 'vault');
    assert.equal(creds(await helper(['get'], env, 'reg.test')).Secret, tok);
    assert.equal(readFileSync(counter, 'utf8'), 'x\n', 'the second get used the cache');

    const cfg = join(t.dir, 'argv.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        registries: {
          'argv.test': {
            provider: 'p',
            audience: 'reg.test',
            source: { type: 'command', command: [script] },
          },
        },
        cacheDir: join(t.dir, 'cache-argv'),
      }),
    );
    assert.equal(
      creds(await helper(['get'], { HOME: t.dir, PURSER_CREDHELPER_CONFIG: cfg }, 'argv.test')).Secret,
      tok,
    );

    const failing = await helper(
      ['get'],
      { ...env, PURSER_TOKEN_COMMAND: 'echo oops >&2; exit 7' },
      'reg.test',
    );
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /token command "echo oops >&2; exit 7" failed \(exit 7\): oops/);
    const notJwt = await helper(['get'], { ...env, PURSER_TOKEN_COMMAND: 'echo hello' }, 'reg.test');
    assert.equal(notJwt.code, 1);
    assert.match(notJwt.stderr, /the command token source did not give a JWT/);
  });

  test('auto: GitHub, then GitLab, then Kubernetes; none: one line saying what was looked for', async () => {
    const file = join(t.dir, 'auto-token');
    const k8s = jwt({ exp: now() + 600, aud: 'reg.test' });
    writeFileSync(file, k8s);
    const gl = jwt({ exp: now() + 600, aud: 'reg.test' });
    const env = base({ PURSER_TOKEN_FILE: file });
    assert.equal(
      creds(await helper(['get'], { ...env, PURSER_ID_TOKEN: gl }, 'reg.test')).Username,
      'gitlab',
    );
    assert.equal(creds(await helper(['get'], env, 'reg.test')).Username, 'kubernetes');
    const none = await helper(
      ['get'],
      { ...env, PURSER_TOKEN_FILE: join(t.dir, 'none'), GITHUB_ACTIONS: 'true' },
      'reg.test',
    );
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /no token source available: GitHub Actions: .*id-token: write.*not GitLab CI.*no Kubernetes token file/,
    );
    assert.equal(none.stderr.trim().split('\n').length, 1);
    const list = await helper(['list'], env);
    assert.deepEqual(JSON.parse(list.stdout), { 'reg.test': '' });
  });
});

describe('the installed commands', () => {
  const bin = join(repoRoot, 'bin', 'docker-credential-purser.js');
  const bundled = join(repoRoot, 'actions', 'login', 'dist', 'credhelper.mjs');
  const published = join(repoRoot, 'clients', 'dist', 'docker-credential-purser.mjs');
  let t: ReturnType<typeof tempDir>;
  before(() => {
    t = tempDir();
    mkdirSync(join(t.dir, 'home'));
  });
  after(() => t.cleanup());

  for (const [name, script] of [
    ['bin/docker-credential-purser.js', bin],
    ['actions/login/dist/credhelper.mjs', bundled],
    ['clients/dist/docker-credential-purser.mjs (npm run build:clients)', published],
  ] as const) {
    test(`${name}: get unknown -> exit 1 and the protocol message on stdout; get and list`, async () => {
      const env = { PATH: process.env.PATH, HOME: join(t.dir, 'home') };
      const r = await run(process.execPath, [script, 'get'], {
        env,
        input: 'https://nowhere.example\n',
        timeout: 20_000,
      });
      assert.equal(r.code, 1, describeRun(r));
      assert.equal(r.stdout, `${NOT_FOUND_MESSAGE}\n`);
      const tok = jwt({ exp: now() + 600, aud: 'r.test' });
      const env2 = { ...env, PURSER_REGISTRY: 'r.test', PURSER_TOKEN_SOURCE: 'gitlab', PURSER_ID_TOKEN: tok };
      const g = await run(process.execPath, [script, 'get'], { env: env2, input: 'r.test', timeout: 20_000 });
      assert.equal(g.code, 0, describeRun(g));
      assert.deepEqual(JSON.parse(g.stdout), { ServerURL: 'r.test', Username: 'gitlab', Secret: tok });
      const l = await run(process.execPath, [script, 'list'], { env: env2, timeout: 20_000 });
      assert.deepEqual(JSON.parse(l.stdout), { 'r.test': 'gitlab' });
      const e = await run(process.execPath, [script, 'get'], {
        env: { ...env2, PURSER_TOKEN_SOURCE: 'github' },
        input: 'r.test',
      });
      assert.equal(e.code, 1);
      assert.match(e.stderr, /^docker-credential-purser: ACTIONS_ID_TOKEN_REQUEST_URL/);
      assert.match(e.stdout, /id-token: write/, 'stdout carries the reason too: docker shows only stdout');
    });
  }
});
