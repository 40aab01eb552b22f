// What every benchmark here shares: keys, a bcrypt user, a loopback OIDC issuer with a
// GitHub-shaped JWT, two Purser processes (log level warn and info) and the two floors, the
// three scenarios, and a sanity check that all of them issue the same token.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startIssuer } from './issuer.js';

export const BENCH = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(BENCH);
const env = process.env;

const SERVICE = 'registry.bench';
const ISSUER = 'purser-bench';
const EXPIRES_IN = 300;
const USER = 'ci-bot';
const PASSWORD = 'correct horse battery staple';
export const CLK_TCK = 100; // getconf CLK_TCK on Linux

export const log = (s) => process.stderr.write(`${s}\n`);
const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const tokenPath = (scope) => `/token?service=${SERVICE}&scope=${encodeURIComponent(scope)}`;

/** A free loopback port (Purser at log level warn does not print its "listening" line). */
/** `purser keys generate` into DIR/keys (token.key, token.crt), with Purser's own CLI. */
export function generateKeys(dir) {
  execFileSync(
    process.execPath,
    ['bin/purser.js', 'keys', 'generate', '--alg', 'ES256', '--out', join(dir, 'keys')],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

/** The `token:` block every bench config shares (keys from generateKeys). */
export const benchToken = () => ({
  issuer: ISSUER,
  service: SERVICE,
  key: 'keys/token.key',
  certificate: 'keys/token.crt',
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a server whose stdout goes to `logFile`; resolves when it answers `url` + `/healthz`
 * (Purser, given a port) or logs its "listening" URL (the floors, on port 0).
 */
export async function startServer(name, cmd, args, extraEnv, logFile, url, timeoutMs = 20_000) {
  const out = openSync(logFile, 'w');
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', out, 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr}`);
    if (url) {
      try {
        const res = await request(`${url}/healthz`);
        await res.body.dump();
        if (res.statusCode === 200) return { name, child, url, logFile };
      } catch {
        // not listening yet
      }
    } else {
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (line.includes('"listening"')) return { name, child, url: JSON.parse(line).url, logFile };
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  throw new Error(`${name} did not start within ${timeoutMs / 1000} s: ${stderr}`);
}

/**
 * `purser serve` with `config` (written to DIR/purser.yaml, `listen` on a free loopback port
 * added), as users run it; its stdout goes to DIR/purser.log. Resolves like startServer.
 */
export async function startPurserWith(dir, config, name = 'purser') {
  const port = await freePort();
  const file = join(dir, 'purser.yaml');
  writeFileSync(file, stringify({ listen: `127.0.0.1:${port}`, ...config }));
  return startServer(
    name,
    process.execPath,
    ['bin/purser.js', 'serve', '--config', file],
    {},
    join(dir, 'purser.log'),
    `http://127.0.0.1:${port}`,
  );
}

export async function stopServer(s) {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** One request: checks the answer is a 200 token response and returns its claims. */
export async function probe(server, scenario) {
  const res = await request(`${server.url}${scenario.path}`, { headers: scenario.headers });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(`${server.name} ${scenario.name}: HTTP ${res.statusCode} ${text}`);
  const body = JSON.parse(text);
  for (const k of ['token', 'access_token', 'expires_in', 'issued_at']) {
    if (body[k] === undefined) throw new Error(`${server.name} ${scenario.name}: no ${k} in ${text}`);
  }
  const [h, p] = body.token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()),
    bytes: text.length,
  };
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const nproc = execFileSync('nproc').toString().trim();
  const mem = /^MemTotal:\s*(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return {
    nproc: Number(nproc),
    cpu: model,
    memoryGiB: mem ? Math.round(Number(mem) / 1024 / 1024) : undefined,
    kernel: execFileSync('uname', ['-r']).toString().trim(),
    node: process.version,
    date: new Date().toISOString(),
    commit: (() => {
      try {
        return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
      } catch {
        return undefined;
      }
    })(),
  };
}

/** Purser's default `limits.responseBatch` (src/config/schema.ts), which the batched floors copy. */
export const PURSER_RESPONSE_BATCH = 16;

/**
 * Starts everything. `nodeArgs(name)` gives node flags for a server (--cpu-prof, say) and
 * `command(argv)` the whole command line to run it with (node by default, or under valgrind).
 * Resolves with { servers, purserWarn, purserInfo, floorToken, floorJwt, floorTokenBatched,
 * floorJwtBatched, scenarios, issuer, close }; each scenario names its `floor` and `floorBatched`.
 */
export async function setUp({
  only = ['static', 'anonymous', 'jwt'],
  nodeArgs = () => [],
  command = (args) => [process.execPath, ...args],
  startTimeoutMs = 20_000,
} = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'purser-bench-'));
  const servers = [];
  let issuer;
  const close = async () => {
    await Promise.all(servers.map(stopServer));
    await issuer?.close();
    rmSync(tmp, { recursive: true, force: true });
  };
  const start = (name, args, extraEnv, logFile, url) => {
    const [cmd, ...argv] = command([...nodeArgs(name), ...args]);
    return startServer(name, cmd, argv, extraEnv, logFile, url, startTimeoutMs).then((s) => {
      servers.push(s);
      return s;
    });
  };
  try {
    generateKeys(tmp);
    // bcrypt cost 10 ($2y$ as `htpasswd -B` writes it where @node-rs/bcrypt 2.x can say so;
    // 1.x takes the cost as a number and writes $2b$).
    let hash;
    try {
      hash = await bcryptHash(PASSWORD, { cost: 10, version: '2y' });
    } catch {
      hash = await bcryptHash(PASSWORD, 10);
    }

    issuer = await startIssuer();
    const jwt = await issuer.mint({ audience: SERVICE, repository: 'acme/app', ref: 'refs/heads/main' });
    writeFileSync(join(tmp, 'jwks.json'), JSON.stringify(issuer.jwks));

    const ports = { warn: await freePort(), info: await freePort() };
    const config = (level) => ({
      listen: `127.0.0.1:${ports[level]}`,
      // Per-worker efficiency against the single-threaded floors; bench/workers.js measures scaling.
      workers: 1,
      token: {
        ...benchToken(),
        keyId: 'libtrust',
        expiresIn: EXPIRES_IN,
      },
      // A long login cache so every measured static-user request is a cache hit (the
      // default, 60 s, would put one bcrypt stall per minute into the window).
      auth: { anonymous: true, cacheSeconds: 3600 },
      users: { [USER]: hash },
      providers: [{ name: 'github', preset: 'github-actions', issuer: issuer.url, audience: SERVICE }],
      acl: [
        { match: { account: USER, name: 'team/*' }, actions: ['pull', 'push'] },
        {
          match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
          when: 'claims.ref == "refs/heads/main"',
          actions: ['pull', 'push'],
        },
        { match: { account: '', name: 'public/**' }, actions: ['pull'] },
      ],
      log: { level },
    });
    for (const level of ['warn', 'info'])
      writeFileSync(join(tmp, `purser-${level}.yaml`), stringify(config(level)));

    const [purserWarn, purserInfo] = await Promise.all([
      start(
        'purser (log warn)',
        ['bin/purser.js', 'serve', '--config', join(tmp, 'purser-warn.yaml')],
        {},
        join(tmp, 'purser-warn.log'),
        `http://127.0.0.1:${ports.warn}`,
      ),
      start(
        'purser (log info)',
        ['bin/purser.js', 'serve', '--config', join(tmp, 'purser-info.yaml')],
        {},
        join(tmp, 'purser-info.log'),
        `http://127.0.0.1:${ports.info}`,
      ),
    ]);
    // The floors sign with the same key and the same header: take the kid from Purser's JWKS.
    const jwksRes = await request(`${purserWarn.url}/.well-known/jwks.json`);
    const kid = (await jwksRes.body.json()).keys[0].kid;
    const floorCfg = {
      keyFile: join(tmp, 'keys', 'token.key'),
      kid,
      issuer: ISSUER,
      service: SERVICE,
      expiresIn: EXPIRES_IN,
      jwksFile: join(tmp, 'jwks.json'),
      providerIssuer: issuer.url,
      audience: SERVICE,
    };
    // The batched floors end their responses as Purser does by default (limits.responseBatch:
    // 16): the same floors, with what that technique alone is worth.
    const batched = { ...floorCfg, batch: PURSER_RESPONSE_BATCH };
    const floor = (name, script, config, logName) =>
      start(name, [join(BENCH, script)], { BENCH_FLOOR: JSON.stringify(config) }, join(tmp, logName));
    const [floorToken, floorJwt, floorTokenBatched, floorJwtBatched] = await Promise.all([
      floor('floor (token)', 'floor-token.js', floorCfg, 'floor-token.log'),
      floor('floor (jwt)', 'floor-jwt.js', floorCfg, 'floor-jwt.log'),
      floor('batched floor (token)', 'floor-token.js', batched, 'floor-token-batched.log'),
      floor('batched floor (jwt)', 'floor-jwt.js', batched, 'floor-jwt-batched.log'),
    ]);

    const scenarios = [
      {
        name: 'static',
        title: 'Static user, cached login (Basic, bcrypt cost 10), `repository:team/app:pull,push`',
        path: tokenPath('repository:team/app:pull,push'),
        headers: { authorization: basic(USER, PASSWORD) },
        floor: floorToken,
        floorBatched: floorTokenBatched,
      },
      {
        name: 'anonymous',
        title: 'Anonymous pull, `repository:public/app:pull`',
        path: tokenPath('repository:public/app:pull'),
        headers: {},
        floor: floorToken,
        floorBatched: floorTokenBatched,
      },
      {
        name: 'jwt',
        title:
          'JWT login (RS256 GitHub-shaped CI JWT, CEL `when`, `${claims.repository}`), `repository:acme/app:pull,push`',
        path: tokenPath('repository:acme/app:pull,push'),
        headers: { authorization: basic('github', jwt) },
        floor: floorJwt,
        floorBatched: floorJwtBatched,
      },
    ].filter((s) => only.includes(s.name));

    // Sanity: every server answers every scenario with the same token shape and access. This
    // also pays the one bcrypt of the static user and waits for the issuer's keys.
    for (const sc of scenarios) {
      const ref = await probe(sc.floor, sc);
      for (const s of [purserWarn, purserInfo, sc.floorBatched]) {
        const got = await probe(s, sc);
        const same = (k) => JSON.stringify(got.claims[k]) === JSON.stringify(ref.claims[k]);
        if (
          !same('access') ||
          !same('sub') ||
          !same('aud') ||
          !same('iss') ||
          JSON.stringify(got.header) !== JSON.stringify(ref.header)
        ) {
          throw new Error(
            `${s.name} ${sc.name}: token differs from the floor's:\n  ${JSON.stringify(got)}\n  ${JSON.stringify(ref)}`,
          );
        }
      }
      sc.sample = { header: ref.header, claims: ref.claims, responseBytes: ref.bytes };
      log(`ok ${sc.name}: sub=${JSON.stringify(ref.claims.sub)} access=${JSON.stringify(ref.claims.access)}`);
    }

    return {
      tmp,
      servers,
      purserWarn,
      purserInfo,
      floorToken,
      floorJwt,
      floorTokenBatched,
      floorJwtBatched,
      scenarios,
      issuer,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
