// The `purser login` GitHub Action (actions/login): its logic against a loopback ID-token
// endpoint shaped like GitHub's (GET, `Authorization: Bearer <request token>`, `audience`
// query, `{"value": JWT}` answer), the runner's file commands, the docker config merge, the
// credential helper it installs, and the post step's cleanup. The last tests run the shipped
// actions/login/dist/index.mjs as the runner would.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { type ActionIo, runAction } from '../../../clients/src/action/index.js';
import { readInputs } from '../../../clients/src/action/inputs.js';
import { appendFileCommand } from '../../../clients/src/action/runner.js';
import { digest, revertEntry, setEntry } from '../../../clients/src/docker/config.js';
import type { Env } from '../../../clients/src/env.js';
import { ACTION_NODE, ACTION_NODE_LABEL } from '../../helpers/action-node.js';
import { repoRoot } from '../../helpers/paths.js';
import { describeRun, run } from '../../helpers/proc.js';
import { tempDir } from '../support.js';

const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>): string =>
  `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;

interface Endpoint {
  url: string;
  requestToken: string;
  hits: { audience: string | null; authorization: string | undefined }[];
  issued: string[];
  status: number;
  close(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const ep: Endpoint = {
    url: '',
    requestToken: `rt-${Math.random().toString(36).slice(2)}`,
    hits: [],
    issued: [],
    status: 200,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const audience = u.searchParams.get('audience');
    ep.hits.push({ audience, authorization: req.headers.authorization });
    if (ep.status !== 200) {
      res.writeHead(ep.status, { 'content-type': 'application/json' }).end('{"message":"denied"}');
      return;
    }
    if (req.headers.authorization?.toLowerCase() !== `bearer ${ep.requestToken}`.toLowerCase()) {
      res.writeHead(401).end();
      return;
    }
    const token = jwt({
      iss: 'https://token.actions.example',
      aud: audience,
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      iat: now(),
      exp: now() + 300,
      jti: String(ep.issued.length + 1),
    });
    ep.issued.push(token);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: token }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ep.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_apis/idtoken?api-version=2.0`;
  ep.close = () => new Promise<void>((r) => server.close(() => r()));
  return ep;
}

/** Parses a GITHUB_OUTPUT / GITHUB_STATE file (`name<<DELIM` ... `DELIM`). */
function parseFileCommands(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(path)) return out;
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join('\n');
  }
  return out;
}

const readJson = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));

interface Job {
  dir: string;
  env: Env;
  dockerConfig: string;
  files: { output: string; state: string; path: string };
  /** Runs the main step in-process; returns exit code and stdout. */
  main(inputs: Record<string, string>): Promise<{ code: number; out: string }>;
  /** Runs the post step with the state the main steps saved so far (the last login's). */
  post(state?: Record<string, string>): Promise<{ code: number; out: string }>;
  cleanup(): void;
}

function newJob(ep: Endpoint): Job {
  const t = tempDir('purser-action-');
  const files = { output: join(t.dir, 'output'), state: join(t.dir, 'state'), path: join(t.dir, 'path') };
  const env: Env = {
    HOME: join(t.dir, 'home'),
    RUNNER_TEMP: join(t.dir, 'runner-temp'),
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_PATH: files.path,
    ACTIONS_ID_TOKEN_REQUEST_URL: ep.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: ep.requestToken,
  };
  mkdirSync(env.HOME!);
  mkdirSync(env.RUNNER_TEMP!);
  const io = (e: Env, sink: { out: string }): ActionIo => ({
    env: e,
    stdout: (s) => {
      sink.out += s;
    },
    helperScript: join(repoRoot, 'bin', 'docker-credential-purser.js'),
  });
  return {
    dir: t.dir,
    env,
    dockerConfig: join(env.HOME!, '.docker', 'config.json'),
    files,
    async main(inputs) {
      writeFileSync(files.state, ''); // each step gets its own state file
      const e: Env = { ...env };
      for (const [k, v] of Object.entries(inputs)) e[`INPUT_${k.toUpperCase()}`] = v;
      const sink = { out: '' };
      const code = await runAction(io(e, sink));
      return { code, out: sink.out };
    },
    async post(state) {
      const s = state ?? parseFileCommands(files.state);
      const e: Env = { ...env };
      for (const [k, v] of Object.entries(s)) e[`STATE_${k}`] = v;
      const sink = { out: '' };
      const code = await runAction(io(e, sink));
      return { code, out: sink.out };
    },
    cleanup: t.cleanup,
  };
}

describe('inputs and the runner protocol', () => {
  test('defaults: audience is the registry host, provider github, credential helper on', () => {
    assert.deepEqual(readInputs({ INPUT_REGISTRY: 'https://Registry.example.com:5000/' }), {
      registry: 'registry.example.com:5000',
      audience: 'registry.example.com',
      provider: 'github',
      credentialHelper: true,
    });
    assert.deepEqual(
      readInputs({
        INPUT_REGISTRY: 'r.io',
        INPUT_AUDIENCE: 'purser',
        INPUT_PROVIDER: 'gh',
        'INPUT_CREDENTIAL-HELPER': 'false',
      }),
      { registry: 'r.io', audience: 'purser', provider: 'gh', credentialHelper: false },
    );
    assert.throws(() => readInputs({}), /input registry is required/);
    assert.throws(
      () => readInputs({ INPUT_REGISTRY: 'r.io', 'INPUT_CREDENTIAL-HELPER': 'yes' }),
      /credential-helper: "yes" is not a boolean/,
    );
  });

  test('file commands: heredoc with a random delimiter, multi-line values intact', () => {
    const t = tempDir();
    try {
      const f = join(t.dir, 'out');
      appendFileCommand(f, 'a', 'one');
      appendFileCommand(f, 'b', 'two\nlines');
      assert.deepEqual(parseFileCommands(f), { a: 'one', b: 'two\nlines' });
      assert.match(readFileSync(f, 'utf8'), /^a<<ghadelimiter_[0-9a-f-]{36}\none\nghadelimiter_/);
    } finally {
      t.cleanup();
    }
  });

  test('setEntry/revertEntry restore exactly what was there', () => {
    const doc: Record<string, unknown> = { auths: { 'r.io': { auth: 'old' }, 'x.io': { auth: 'x' } } };
    const before = structuredClone(doc);
    const prev = setEntry(doc, 'auths', 'r.io', { auth: 'new' });
    assert.deepEqual(prev, { auth: 'old' });
    assert.equal(revertEntry(doc, 'auths', 'r.io', digest({ auth: 'new' }), prev), true);
    assert.deepEqual(doc, before);
    const fresh: Record<string, unknown> = {};
    const p2 = setEntry(fresh, 'credHelpers', 'r.io', 'purser');
    assert.equal(p2, null);
    assert.equal(revertEntry(fresh, 'credHelpers', 'r.io', digest('purser'), p2), true);
    assert.deepEqual(fresh, {}, 'an emptied section goes too');
    const changed: Record<string, unknown> = { credHelpers: { 'r.io': 'other' } };
    assert.equal(revertEntry(changed, 'credHelpers', 'r.io', digest('purser'), null), false);
    assert.deepEqual(changed, { credHelpers: { 'r.io': 'other' } });
  });
});

describe('the action against a loopback ID-token endpoint', () => {
  let ep: Endpoint;
  let job: Job;
  before(async () => {
    ep = await startEndpoint();
  });
  after(() => ep.close());
  beforeEach(() => {
    ep.hits = [];
    ep.issued = [];
    ep.status = 200;
    job = newJob(ep);
  });
  afterEach(() => job.cleanup());

  test('without id-token: write: fails saying so, changes nothing, post has nothing to do', async () => {
    delete job.env.ACTIONS_ID_TOKEN_REQUEST_URL;
    delete job.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
    const r = await job.main({ registry: 'registry.example.com' });
    assert.equal(r.code, 1);
    assert.match(r.out, /^::error title=purser login::.*`permissions: id-token: write`/m);
    assert.equal(existsSync(job.dockerConfig), false);
    assert.equal(ep.hits.length, 0);
    const state = parseFileCommands(job.files.state);
    assert.deepEqual(state, { isPost: 'true' }, 'post step knows it is the post step');
    const p = await job.post();
    assert.equal(p.code, 0);
    assert.match(p.out, /nothing to clean up/);
  });

  test('an endpoint refusal fails the step with the status', async () => {
    ep.status = 403;
    const r = await job.main({ registry: 'registry.example.com' });
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /::error title=purser login::GitHub ID token request for audience "registry.example.com" refused: HTTP 403/,
    );
  });

  test('credential helper mode: masks the token, merges credHelpers, installs the helper; post undoes it exactly', async () => {
    const original = {
      auths: { 'other.io': { auth: 'b3RoZXI6c2VjcmV0' } },
      credHelpers: { 'gcr.io': 'gcloud' },
      credsStore: 'desktop',
      psFormat: 'table {{.ID}}',
    };
    mkdirSync(join(job.env.HOME!, '.docker'));
    writeFileSync(job.dockerConfig, JSON.stringify(original));

    const r = await job.main({ registry: 'https://registry.example.com:5000/', audience: 'purser.test' });
    assert.equal(r.code, 0, r.out);
    assert.equal(ep.hits.length, 1);
    assert.equal(ep.hits[0]!.audience, 'purser.test');
    assert.equal(ep.hits[0]!.authorization, `Bearer ${ep.requestToken}`);
    const token = ep.issued[0]!;
    const lines = r.out.split('\n');
    assert.equal(lines[0], `::add-mask::${token}`, 'the token is masked before anything else is printed');
    assert.equal(lines.filter((l) => l.includes(token)).length, 1, 'and never printed otherwise');

    assert.deepEqual(readJson(job.dockerConfig), {
      ...original,
      credHelpers: { 'gcr.io': 'gcloud', 'registry.example.com:5000': 'purser' },
    });
    assert.deepEqual(parseFileCommands(job.files.output), {
      registry: 'registry.example.com:5000',
      username: 'github',
      audience: 'purser.test',
      'expires-at': new Date(
        JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp * 1000,
      ).toISOString(),
      'credential-helper': 'true',
    });
    const binDir = readFileSync(job.files.path, 'utf8').trim();
    assert.equal(binDir, join(job.env.RUNNER_TEMP!, 'purser-login', 'bin'));
    const wrapper = join(binDir, 'docker-credential-purser');
    assert.equal(statSync(wrapper).mode & 0o111, 0o111, 'executable');

    // A later step: docker runs `docker-credential-purser get` from PATH, with the job's env.
    const stepEnv = {
      PATH: `${binDir}:${process.env.PATH}`,
      HOME: job.env.HOME,
      ACTIONS_ID_TOKEN_REQUEST_URL: ep.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: ep.requestToken,
    };
    const g = await run('docker-credential-purser', ['get'], {
      env: stepEnv,
      input: 'registry.example.com:5000\n',
    });
    assert.equal(g.code, 0, describeRun(g));
    assert.deepEqual(JSON.parse(g.stdout), {
      ServerURL: 'registry.example.com:5000',
      Username: 'github',
      Secret: token,
    });
    assert.equal(ep.hits.length, 1, "the helper's first get reuses the action's token");
    const l = await run('docker-credential-purser', ['list'], { env: stepEnv });
    assert.deepEqual(JSON.parse(l.stdout), { 'registry.example.com:5000': 'github' });

    const p = await job.post();
    assert.equal(p.code, 0, p.out);
    assert.deepEqual(readJson(job.dockerConfig), original, 'the docker config is back as it was');
    assert.equal(
      existsSync(join(job.env.RUNNER_TEMP!, 'purser-login')),
      false,
      'helper, config and cache removed',
    );
  });

  test('auths mode: a base64 provider:JWT entry (masked too), replacing one that post puts back', async () => {
    const original = {
      auths: { 'registry.example.com': { auth: Buffer.from('old:cred').toString('base64') } },
    };
    job.env.DOCKER_CONFIG = join(job.dir, 'docker-cfg');
    job.dockerConfig = join(job.env.DOCKER_CONFIG, 'config.json');
    mkdirSync(job.env.DOCKER_CONFIG);
    writeFileSync(job.dockerConfig, JSON.stringify(original));
    const r = await job.main({
      registry: 'registry.example.com',
      provider: 'gh-acme',
      'credential-helper': 'false',
    });
    assert.equal(r.code, 0, r.out);
    const token = ep.issued[0]!;
    const auth = Buffer.from(`gh-acme:${token}`).toString('base64');
    assert.deepEqual(readJson(job.dockerConfig), { auths: { 'registry.example.com': { auth } } });
    assert.ok(r.out.includes(`::add-mask::${auth}\n`), 'the base64 form is masked as well');
    assert.equal(existsSync(job.files.path), false, 'no helper on PATH in this mode');
    assert.doesNotMatch(
      readFileSync(job.files.state, 'utf8'),
      new RegExp(auth.slice(0, 40)),
      'no secret in state',
    );
    await job.post();
    assert.deepEqual(readJson(job.dockerConfig), original);
  });

  test('post: removes a docker config it created; leaves an entry someone changed since, with a warning', async () => {
    const r = await job.main({ registry: 'registry.example.com' });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(readJson(job.dockerConfig), { credHelpers: { 'registry.example.com': 'purser' } });
    const state = parseFileCommands(job.files.state);
    await job.post(state);
    assert.equal(existsSync(job.dockerConfig), false);

    await job.main({ registry: 'registry.example.com' });
    const state2 = parseFileCommands(job.files.state);
    writeFileSync(job.dockerConfig, JSON.stringify({ credHelpers: { 'registry.example.com': 'ecr-login' } }));
    const p = await job.post(state2);
    assert.match(
      p.out,
      /::warning::.*credHelpers\["registry.example.com"\] was changed since login; left as it is/,
    );
    assert.deepEqual(readJson(job.dockerConfig), { credHelpers: { 'registry.example.com': 'ecr-login' } });
  });

  test('two logins in one job share the helper; posts (in reverse) remove one each', async () => {
    await job.main({ registry: 'a.example.com' });
    const sa = parseFileCommands(job.files.state);
    await job.main({ registry: 'b.example.com', provider: 'other' });
    const sb = parseFileCommands(job.files.state);
    const helperCfg = join(job.env.RUNNER_TEMP!, 'purser-login', 'credhelper.json');
    const cfg = readJson(helperCfg) as { registries: Record<string, unknown> };
    assert.deepEqual(Object.keys(cfg.registries).sort(), ['a.example.com', 'b.example.com']);
    assert.equal(ep.hits.length, 2);
    await job.post(sb);
    assert.deepEqual(Object.keys((readJson(helperCfg) as typeof cfg).registries), ['a.example.com']);
    assert.deepEqual(readJson(job.dockerConfig), { credHelpers: { 'a.example.com': 'purser' } });
    await job.post(sa);
    assert.equal(existsSync(helperCfg), false);
    assert.equal(existsSync(job.dockerConfig), false);
  });

  test('a broken docker config is left alone and fails the step', async () => {
    mkdirSync(join(job.env.HOME!, '.docker'));
    writeFileSync(job.dockerConfig, '{"auths": ');
    const r = await job.main({ registry: 'registry.example.com' });
    assert.equal(r.code, 1);
    assert.match(r.out, /::error title=purser login::.*config\.json is not valid JSON \(left unchanged\)/);
    assert.equal(readFileSync(job.dockerConfig, 'utf8'), '{"auths": ');
  });
});

describe('the shipped action (actions/login/dist/index.mjs) run as the runner runs it', () => {
  let ep: Endpoint;
  let job: Job;
  before(async () => {
    ep = await startEndpoint();
    job = newJob(ep);
  });
  after(async () => {
    job.cleanup();
    await ep.close();
  });

  test(`main then post, with ${ACTION_NODE_LABEL} and no npm install`, async () => {
    const action = join(repoRoot, 'actions', 'login', 'dist', 'index.mjs');
    const base = { PATH: process.env.PATH, ...job.env } as NodeJS.ProcessEnv;
    const m = await run(ACTION_NODE, [action], {
      env: {
        ...base,
        INPUT_REGISTRY: '127.0.0.1:5000',
        INPUT_AUDIENCE: 'purser.test',
        'INPUT_CREDENTIAL-HELPER': 'true',
      },
      cwd: job.dir,
    });
    assert.equal(m.code, 0, describeRun(m));
    assert.ok(m.stdout.startsWith(`::add-mask::${ep.issued[0]}\n`), m.stdout);
    assert.deepEqual(readJson(job.dockerConfig), { credHelpers: { '127.0.0.1:5000': 'purser' } });
    const binDir = readFileSync(job.files.path, 'utf8').trim();
    const wrapper = readFileSync(join(binDir, 'docker-credential-purser'), 'utf8');
    assert.ok(wrapper.includes(join(repoRoot, 'actions', 'login', 'dist', 'credhelper.mjs')), wrapper);
    const g = await run(join(binDir, 'docker-credential-purser'), ['get'], {
      env: base,
      input: '127.0.0.1:5000',
    });
    assert.equal(g.code, 0, describeRun(g));
    assert.equal((JSON.parse(g.stdout) as { Secret: string }).Secret, ep.issued[0]);

    const state = parseFileCommands(job.files.state);
    const stateEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(state)) stateEnv[`STATE_${k}`] = v;
    const p = await run(ACTION_NODE, [action], { env: { ...base, ...stateEnv }, cwd: job.dir });
    assert.equal(p.code, 0, describeRun(p));
    assert.equal(existsSync(job.dockerConfig), false);
    assert.equal(existsSync(binDir), false);
    assert.equal(ep.hits.length, 1);
  });

  test('action.yml: node24 (what the bundle is built for), main and post on the bundled file, the documented inputs', () => {
    const yml = readFileSync(join(repoRoot, 'actions', 'login', 'action.yml'), 'utf8');
    assert.match(yml, /^ {2}using: node24$/m);
    assert.match(yml, /^ {2}main: dist\/index\.mjs$/m);
    assert.match(yml, /^ {2}post: dist\/index\.mjs$/m);
    for (const input of ['registry', 'audience', 'provider', 'credential-helper']) {
      assert.match(yml, new RegExp(`^ {2}${input}:$`, 'm'), input);
    }
    assert.match(yml, /^ {4}default: github$/m);
  });
});
