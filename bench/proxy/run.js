// Blob throughput through Purser's registry proxy, next to the same registry directly, nginx (the
// distribution docs' auth_basic recipe) and a bare Node TCP relay, all measured in one run.
//
//   node bench/proxy/run.js       (after a build; about 4 minutes; rewrites bench/proxy/README.md)
//
// Knobs: PROXY_BENCH_RUNS (4), PROXY_BENCH_MIB (1024), PROXY_BENCH_ONLY=download|upload,
// PROXY_BENCH_PATHS (comma-separated path ids), PROXY_BENCH_PROFILE=1 (run the Purser processes under
// node --cpu-prof and print where their time went; does not rewrite the README),
// PROXY_BENCH_NO_README=1, PROXY_BENCH_KEEP=1 (keep the temp dir).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { stringify } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const env = process.env;
const RUNS = Number(env.PROXY_BENCH_RUNS ?? 4);
const MIB = Number(env.PROXY_BENCH_MIB ?? 1024);
const SIZE = MIB * 1024 * 1024;
const ONLY = env.PROXY_BENCH_ONLY;
const PROFILE = env.PROXY_BENCH_PROFILE === '1';
const WRITE_README = !PROFILE && env.PROXY_BENCH_NO_README !== '1' && !env.PROXY_BENCH_PATHS && !ONLY;
const PATHS_FILTER = env.PROXY_BENCH_PATHS?.split(',');

const SERVICE = 'registry.bench';
const ISSUER = 'purser-bench';
const USER = 'alice';
const PASSWORD = 'alice-bench-pw';
const REPO = 'bench/blob';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

const execFileP = promisify(execFile);
const log = (s) => process.stderr.write(`${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();

// ---------------------------------------------------------------------------------------------
// processes

const children = [];
let tmp;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns a long-lived process with stdout and stderr going to `logFile`. */
function startChild(name, cmd, args, logFile, opts = {}) {
  const out = openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd ?? tmp, env: opts.env ?? env, stdio: ['ignore', out, out] });
  closeSync(out);
  const c = { name, child, pid: child.pid, logFile, exited: false };
  child.on('exit', () => {
    c.exited = true;
  });
  children.push(c);
  return c;
}

async function stopChild(c, signal = 'SIGTERM', timeoutMs = 5_000) {
  if (c.exited) return;
  c.child.kill(signal);
  const deadline = Date.now() + timeoutMs;
  while (!c.exited && Date.now() < deadline) await sleep(20);
  if (!c.exited) c.child.kill('SIGKILL');
  while (!c.exited) await sleep(20);
}

const tail = (file) => (existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '');

async function waitFor(c, what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (c.exited) throw new Error(`${c.name} exited during start-up:\n${tail(c.logFile)}`);
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e.message;
    }
    await sleep(50);
  }
  throw new Error(`${c.name}: no ${what} within ${timeoutMs} ms (${last}):\n${tail(c.logFile)}`);
}

/** JSON log lines ("msg":"listening") from a log file. */
function listeningLines(file) {
  const out = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('{');
    if (i < 0) continue;
    try {
      const o = JSON.parse(line.slice(i));
      if (o.msg === 'listening') out.push(o);
    } catch {}
  }
  return out;
}

async function startRegistry(name, auth) {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const port = await freePort();
  const config = {
    version: 0.1,
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: 'bench-secret-not-used-for-anything' },
    ...(auth ? { auth } : {}),
  };
  writeFileSync(join(dir, 'config.yml'), stringify(config));
  const regEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const c = startChild(name, 'docker-registry', ['serve', join(dir, 'config.yml')], join(dir, 'log'), {
    env: regEnv,
    cwd: dir,
  });
  c.url = `http://127.0.0.1:${port}`;
  await waitFor(c, '/v2/', async () => {
    const r = await fetch(`${c.url}/v2/`);
    await r.arrayBuffer();
    return r.status === 200 || r.status === 401;
  });
  return c;
}

async function startPurser(name, keys, upstream, upstreamAuth) {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const config = {
    listen: '127.0.0.1:0',
    token: { issuer: ISSUER, service: SERVICE, key: keys.key, certificate: keys.crt, expiresIn: 900 },
    users: { [USER]: await bcryptHash(PASSWORD, 5) },
    acl: [{ match: { account: USER }, actions: ['*'] }],
    proxy: { listen: '127.0.0.1:0', upstream, upstreamAuth },
  };
  writeFileSync(join(dir, 'purser.yml'), stringify(config));
  const nodeArgs = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(tmp, 'profiles', name)] : [];
  const c = startChild(
    name,
    process.execPath,
    [...nodeArgs, join(ROOT, 'bin', 'purser.js'), 'serve', '--config', join(dir, 'purser.yml')],
    join(dir, 'log'),
    { cwd: dir },
  );
  const lines = await waitFor(c, 'listening lines', () => {
    const l = listeningLines(c.logFile);
    return l.some((o) => o.server === 'proxy') && l.some((o) => o.server === 'token') ? l : undefined;
  });
  c.url = lines.find((o) => o.server === 'proxy').url.replace(/\/$/, '');
  c.tokenUrl = lines.find((o) => o.server === 'token').url.replace(/\/$/, '');
  return c;
}

async function startRelay(upstream) {
  const file = join(tmp, 'relay.log');
  const c = startChild('tcp relay', process.execPath, [join(HERE, 'relay.js'), new URL(upstream).port], file);
  const o = await waitFor(c, 'listening line', () => {
    const l = listeningLines(file);
    return l[0];
  });
  c.url = `http://127.0.0.1:${o.port}`;
  return c;
}

/**
 * nginx as the distribution docs' "Authenticate proxy with nginx" recipe (docs/recipes/nginx.md),
 * minus TLS (everything here is plain HTTP on loopback), plus a keep-alive upstream. Two servers:
 * "recipe" leaves buffering at nginx's defaults, as the recipe does (request bodies are spooled to a
 * temp file before they go upstream); "streaming" adds proxy_buffering off and
 * proxy_request_buffering off.
 */
async function startNginx(upstream) {
  const dir = join(tmp, 'nginx');
  mkdirSync(dir);
  const hash = await bcryptHash(PASSWORD, 5); // htpasswd -B's default cost
  writeFileSync(join(dir, 'nginx.htpasswd'), `${USER}:${hash}\n`);
  const ports = { recipe: await freePort(), streaming: await freePort() };
  const server = (port, extra) => `
  server {
    listen 127.0.0.1:${port};
    server_name localhost;

    # disable any limits to avoid HTTP 413 for large image uploads
    client_max_body_size 0;

    # required to avoid HTTP 411: see Issue #1486 (https://github.com/moby/moby/issues/1486)
    chunked_transfer_encoding on;

    location /v2/ {
      # Do not allow connections from docker 1.5 and earlier
      # docker pre-1.6.0 did not properly set the user agent on ping, catch "Go *" user agents
      if ($http_user_agent ~ "^(docker\\/1\\.(3|4|5(?!\\.[0-9]-dev))|Go ).*$" ) {
        return 404;
      }

      # To add basic authentication to v2 use auth_basic setting.
      auth_basic "Registry realm";
      auth_basic_user_file ${dir}/nginx.htpasswd;

      ## If $docker_distribution_api_version is empty, the header is not added.
      ## See the map directive above where this variable is defined.
      add_header 'Docker-Distribution-Api-Version' $docker_distribution_api_version always;

      proxy_pass                          http://docker-registry;
      proxy_set_header  Host              $http_host;   # required for docker client's sake
      proxy_set_header  X-Real-IP         $remote_addr; # pass on real client's IP
      proxy_set_header  X-Forwarded-For   $proxy_add_x_forwarded_for;
      proxy_set_header  X-Forwarded-Proto $scheme;
      proxy_read_timeout                  900;

      # keep-alive connections to the upstream (not in the recipe)
      proxy_http_version 1.1;
      proxy_set_header  Connection        "";
${extra}
    }
  }`;
  const conf = `# generated by bench/proxy/run.js
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 1024;
}
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  upstream docker-registry {
    server ${new URL(upstream).host};
    keepalive 16;
  }

  ## Set a variable to help us decide if we need to add the
  ## 'Docker-Distribution-Api-Version' header.
  ## The registry always sets this header.
  ## In the case of nginx performing auth, the header is unset
  ## since nginx is auth-ing before proxying.
  map $upstream_http_docker_distribution_api_version $docker_distribution_api_version {
    '' 'registry/2.0';
  }
${server(ports.recipe, '')}
${server(ports.streaming, '      proxy_buffering off;\n      proxy_request_buffering off;')}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const c = startChild(
    'nginx',
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    join(dir, 'stdout.log'),
  );
  for (const p of Object.values(ports))
    await waitFor(c, `port ${p}`, async () => {
      const r = await fetch(`http://127.0.0.1:${p}/v2/`);
      await r.arrayBuffer();
      return r.status === 401;
    });
  c.urls = { recipe: `http://127.0.0.1:${ports.recipe}`, streaming: `http://127.0.0.1:${ports.streaming}` };
  return c;
}

// ---------------------------------------------------------------------------------------------
// /proc

const CLK_TCK = 100;
/** utime + stime of a process, seconds. */
function cpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
/** kB values of VmRSS and VmHWM. */
function memKb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}
/** Minor page faults so far (memory the process touched for the first time, or again after freeing it). */
function minorFaults(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[7]);
  } catch {
    return 0;
  }
}
/** Read and write system calls so far (/proc/PID/io). */
function ioCounts(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { syscr: Number(/syscr:\s+(\d+)/.exec(s)[1]), syscw: Number(/syscw:\s+(\d+)/.exec(s)[1]) };
  } catch {
    return { syscr: 0, syscw: 0 };
  }
}
/** Busy and total jiffies of the whole machine. */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  return { busy: total - idle, total };
}

// ---------------------------------------------------------------------------------------------
// the client: curl, the same for every path

const CURL_W = '%{http_code} %{size_download} %{size_upload} %{time_total} %{time_starttransfer}';

async function curl(args) {
  const { stdout } = await execFileP('curl', ['-sS', '-o', '/dev/null', '-w', CURL_W, ...args], {
    maxBuffer: 1 << 20,
  });
  const [code, down, up, total, ttfb] = stdout.trim().split(' ');
  return {
    code: Number(code),
    down: Number(down),
    up: Number(up),
    seconds: Number(total),
    ttfb: Number(ttfb),
  };
}

async function json(url, headers) {
  const r = await fetch(url, { headers });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

async function bearer(purser) {
  const scope = encodeURIComponent(`repository:${REPO}:pull,push`);
  const j = await json(`${purser.tokenUrl}/token?service=${SERVICE}&scope=${scope}`, {
    authorization: BASIC,
  });
  return `Bearer ${j.token}`;
}

/** POST an upload session; returns the absolute URL to PUT to. */
async function startUpload(base, auth) {
  const r = await fetch(`${base}/v2/${REPO}/blobs/uploads/`, {
    method: 'POST',
    headers: auth ? { authorization: auth } : {},
  });
  await r.arrayBuffer();
  if (r.status !== 202) throw new Error(`POST ${base}/v2/${REPO}/blobs/uploads/: HTTP ${r.status}`);
  return new URL(r.headers.get('location'), base).href;
}

// ---------------------------------------------------------------------------------------------
// measuring

/** Watches processes while a transfer runs: peak VmRSS every 50 ms, CPU seconds, machine busy. */
function watch(pids) {
  const peak = new Map(pids.map((p) => [p, memKb(p).rss]));
  const cpu0 = pids.map(cpuSeconds);
  const io0 = pids.map(ioCounts);
  const flt0 = pids.map(minorFaults);
  const m0 = machineTicks();
  const timer = setInterval(() => {
    for (const p of pids) peak.set(p, Math.max(peak.get(p), memKb(p).rss));
  }, 50);
  return () => {
    clearInterval(timer);
    for (const p of pids) peak.set(p, Math.max(peak.get(p), memKb(p).rss));
    const m1 = machineTicks();
    return {
      peakRssKb: Math.max(0, ...peak.values()),
      cpuSeconds: pids.reduce((a, p, i) => a + cpuSeconds(p) - cpu0[i], 0),
      minflt: pids.reduce((a, p, i) => a + minorFaults(p) - flt0[i], 0),
      // read and write system calls of the processes in between (socket reads and writes)
      syscr: pids.reduce((a, p, i) => a + ioCounts(p).syscr - io0[i].syscr, 0),
      syscw: pids.reduce((a, p, i) => a + ioCounts(p).syscw - io0[i].syscw, 0),
      machineBusy: (m1.busy - m0.busy) / (m1.total - m0.total), // 0..1 of all cores
    };
  };
}

async function download(path) {
  const auth = await path.auth();
  const stop = watch(path.pids());
  const r = await curl([
    ...(auth ? ['-H', `Authorization: ${auth}`] : []),
    `${path.base}/v2/${REPO}/blobs/${digest}`,
  ]);
  const w = stop();
  if (r.code !== 200 || r.down !== SIZE)
    throw new Error(`${path.id} download: HTTP ${r.code}, ${r.down} bytes (want ${SIZE})`);
  return { ...r, ...w, mbps: SIZE / r.seconds / 1e6 };
}

async function upload(path) {
  const auth = await path.auth();
  const loc = await startUpload(path.base, auth);
  const url = `${loc}${loc.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
  const stop = watch(path.pids());
  const r = await curl([
    '-X',
    'PUT',
    '-T',
    blobFile,
    '-H',
    'Content-Type: application/octet-stream',
    '-H',
    'Expect:',
    ...(auth ? ['-H', `Authorization: ${auth}`] : []),
    url,
  ]);
  const w = stop();
  if (r.code !== 201 || r.up !== SIZE)
    throw new Error(`${path.id} upload: HTTP ${r.code}, ${r.up} bytes sent`);
  return { ...r, ...w, mbps: SIZE / r.seconds / 1e6 };
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? Number.NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// ---------------------------------------------------------------------------------------------
// main

let digest;
let blobFile;

async function main() {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('build first: npx tsc -p .');
  tmp = mkdtempSync(join(tmpdir(), 'purser-proxy-bench-'));
  log(`temp dir ${tmp}`);
  const load0 = loadavg();

  // The blob: random bytes, written once.
  blobFile = join(tmp, 'blob');
  {
    const fd = openSync(blobFile, 'w');
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let left = SIZE; left > 0; left -= buf.length) {
      const b = left < buf.length ? buf.subarray(0, left) : buf;
      randomFillSync(b);
      h.update(b);
      writeSync(fd, b);
    }
    closeSync(fd);
    digest = `sha256:${h.digest('hex')}`;
  }
  log(`blob: ${MIB} MiB random, ${digest} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const keyDir = join(tmp, 'keys');
  execFileSync(
    process.execPath,
    [join(ROOT, 'bin', 'purser.js'), 'keys', 'generate', '--alg', 'ES256', '--out', keyDir],
    {
      cwd: tmp,
      stdio: 'ignore',
    },
  );
  const keys = { key: join(keyDir, 'token.key'), crt: join(keyDir, 'token.crt') };

  const [regOpen, regToken] = await Promise.all([
    startRegistry('registry-open', undefined),
    startRegistry('registry-token', {
      token: {
        realm: 'http://127.0.0.1:9/unused',
        service: SERVICE,
        issuer: ISSUER,
        rootcertbundle: keys.crt,
      },
    }),
  ]);
  const [purserNone, purserToken, relay, nginx] = await Promise.all([
    startPurser('purser-none', keys, regOpen.url, 'none'),
    startPurser('purser-token', keys, regToken.url, 'token'),
    startRelay(regOpen.url),
    startNginx(regOpen.url),
  ]);
  const nginxPids = () => childPids(nginx.pid);
  const none = async () => undefined;
  const basicAuth = async () => BASIC;
  const tokenAuth = () => bearer(purserToken);

  /** Every way to reach a registry; pids are the processes between client and registry. */
  let paths = [
    { id: 'direct', label: 'direct (open registry)', base: regOpen.url, auth: none, pids: () => [], via: [] },
    { id: 'relay', label: 'Node TCP relay', base: relay.url, auth: none, pids: () => [relay.pid] },
    {
      id: 'nginx',
      label: 'nginx, recipe (buffering on)',
      base: nginx.urls.recipe,
      auth: basicAuth,
      pids: nginxPids,
    },
    {
      id: 'nginx-stream',
      label: 'nginx, buffering off',
      base: nginx.urls.streaming,
      auth: basicAuth,
      pids: nginxPids,
    },
    {
      id: 'purser',
      label: 'Purser, upstreamAuth none',
      base: purserNone.url,
      auth: basicAuth,
      pids: () => [purserNone.pid],
    },
    {
      id: 'direct-token',
      label: 'direct (auth.token registry)',
      base: regToken.url,
      auth: tokenAuth,
      pids: () => [],
    },
    {
      id: 'purser-token',
      label: 'Purser, upstreamAuth token',
      base: purserToken.url,
      auth: tokenAuth,
      pids: () => [purserToken.pid],
    },
  ];
  if (PATHS_FILTER) paths = paths.filter((p) => PATHS_FILTER.includes(p.id));

  // Seed both registries (unmeasured; this also warms the page cache and every process).
  await upload({ id: 'seed open', base: regOpen.url, auth: none, pids: () => [] });
  await upload({ id: 'seed token', base: purserToken.url, auth: tokenAuth, pids: () => [] });
  for (const p of paths) await download(p); // warm-up and correctness check, unmeasured
  log(`set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const rss0 = {
    'purser-none': memKb(purserNone.pid),
    'purser-token': memKb(purserToken.pid),
  };
  const samples = { download: {}, upload: {} };
  for (const kind of ['download', 'upload']) {
    if (ONLY && ONLY !== kind) continue;
    for (const p of paths) samples[kind][p.id] = [];
    for (let run = 0; run < RUNS; run++) {
      // Interleaved, and each run starts at another path so no path always follows the same one.
      const order = paths.map((_, i) => paths[(i + run) % paths.length]);
      for (const p of order) {
        const r = kind === 'download' ? await download(p) : await upload(p);
        samples[kind][p.id].push(r);
        log(
          `${kind} run ${run + 1}/${RUNS} ${p.id.padEnd(12)} ${r.mbps.toFixed(0).padStart(5)} MB/s` +
            `  cpu ${r.cpuSeconds.toFixed(2)} s  rss ${(r.peakRssKb / 1024).toFixed(0)} MiB  machine ${(r.machineBusy * 100).toFixed(0)} %  faults ${r.minflt}  reads ${r.syscr} writes ${r.syscw}`,
        );
      }
    }
  }

  const hwm = {
    'purser-none': memKb(purserNone.pid).hwm,
    'purser-token': memKb(purserToken.pid).hwm,
  };
  const load1 = loadavg();

  for (const c of [purserNone, purserToken]) await stopChild(c, 'SIGTERM', 15_000);
  await Promise.all(children.map((c) => stopChild(c)));

  const summary = {};
  for (const kind of Object.keys(samples)) {
    summary[kind] = {};
    for (const [id, rs] of Object.entries(samples[kind])) {
      summary[kind][id] = {
        mbps: median(rs.map((r) => r.mbps)),
        runs: rs.map((r) => Math.round(r.mbps)),
        cpuPerGiB: median(rs.map((r) => r.cpuSeconds / (SIZE / 2 ** 30))),
        faultsPerGiB: median(rs.map((r) => r.minflt / (SIZE / 2 ** 30))),
        writesPerRead: median(rs.map((r) => (r.syscr ? r.syscw / r.syscr : 0))),
        peakRssMiB: Math.max(...rs.map((r) => r.peakRssKb)) / 1024,
        machineBusy: median(rs.map((r) => r.machineBusy)),
      };
    }
  }
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    nginx: spawnSyncText('nginx', ['-v']),
    registry: execFileSync('docker-registry', ['--version'], { encoding: 'utf8' }).trim(),
    curl: execFileSync('curl', ['--version'], { encoding: 'utf8' }).split('\n')[0],
    commit: gitCommit(),
    date: new Date().toISOString(),
    loadavgBefore: load0,
    loadavgAfter: load1,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  const result = {
    machine,
    sizeBytes: SIZE,
    runs: RUNS,
    digest,
    paths: paths.map(({ id, label }) => ({ id, label })),
    summary,
    purserRss: { idleKb: rss0, hwmKb: hwm },
    samples,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const out = join(ROOT, 'bench', 'results', `proxy-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  log(`raw results: ${out}`);

  const table = render(result);
  log(`\n${table}`);
  if (WRITE_README) {
    const readme = join(HERE, 'README.md');
    const text = readFileSync(readme, 'utf8');
    const a = text.indexOf('<!-- results:begin');
    const b = text.indexOf('<!-- results:end -->');
    if (a < 0 || b < 0) throw new Error('bench/proxy/README.md has no results markers');
    const begin = text.indexOf('\n', a) + 1;
    writeFileSync(readme, `${text.slice(0, begin)}${table}${text.slice(b)}`);
    log(`updated ${readme}`);
  }
  if (PROFILE) {
    const { summarizeProfile } = await import('../profile.js');
    for (const name of ['purser-none', 'purser-token']) {
      const dir = join(tmp, 'profiles', name);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) {
        log(`\n== ${name} ${f}`);
        log(summarizeProfile(join(dir, f), 25));
      }
    }
  }
}

function spawnSyncText(cmd, args) {
  try {
    return execFileSync('sh', ['-c', `${cmd} ${args.join(' ')} 2>&1`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}
function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// the README table

const GOALS = {
  rssMiB: 150,
  downloadVsRelay: 0.85,
  uploadVsDirect: 0.9,
};

function render(r) {
  const { machine: m, summary: s } = r;
  const fmt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–');
  const lines = [];
  const la = (a) => a.map((x) => x.toFixed(2)).join(' ');
  lines.push(
    `Measured ${m.date.slice(0, 10)} on ${m.nproc} cores (${m.cpu}), ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ` +
      `${m.nginx.replace('nginx version: ', '')}, ${m.registry.replace('docker-registry ', '')}, ${m.curl.split(' (')[0]}; ` +
      `Purser at commit ${m.commit}. Blob ${r.sizeBytes / 2 ** 20} MiB, ${r.runs} runs per path, interleaved; ` +
      `the whole run took ${m.seconds} s; load average ${la(m.loadavgBefore)} before, ${la(m.loadavgAfter)} after.`,
    '',
  );
  const ids = r.paths.map((p) => p.id);
  const label = Object.fromEntries(r.paths.map((p) => [p.id, p.label]));
  for (const kind of ['download', 'upload']) {
    const k = s[kind];
    if (!k || !Object.keys(k).length) continue;
    lines.push(
      `**${kind === 'download' ? 'Downloads' : 'Uploads (monolithic PUT)'}**`,
      '',
      '| path | median MB/s | MB/s per run | CPU s per GiB | page faults per GiB | peak RSS MiB | machine busy |',
      '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
    );
    for (const id of ids) {
      const x = k[id];
      if (!x) continue;
      const mid = !id.startsWith('direct');
      const cells = mid ? [x.cpuPerGiB.toFixed(2), fmt(x.faultsPerGiB), fmt(x.peakRssMiB)] : ['', '', ''];
      lines.push(
        `| ${label[id]} | ${fmt(x.mbps)} | ${x.runs.join(', ')} | ${cells.join(' | ')} | ${pct(x.machineBusy)} |`,
      );
    }
    lines.push('');
  }

  // goals
  const d = s.download ?? {};
  const u = s.upload ?? {};
  const ratio = (a, b) => (a && b ? a.mbps / b.mbps : Number.NaN);
  const best = (a, b) => (a && b ? (a.mbps >= b.mbps ? a : b) : (a ?? b));
  const dlNginx = best(d.nginx, d['nginx-stream']);
  const ulNginx = best(u.nginx, u['nginx-stream']);
  const peakRss =
    Math.max(r.purserRss.hwmKb['purser-none'] ?? 0, r.purserRss.hwmKb['purser-token'] ?? 0) / 1024;
  const pf = (ok) => (ok ? '**pass**' : '**FAIL**');
  const rows = [
    ['download: Purser (none) / direct', ratio(d.purser, d.direct), undefined],
    [
      'download: Purser (token) / direct (auth.token registry)',
      ratio(d['purser-token'], d['direct-token']),
      undefined,
    ],
    [
      'download: Purser (none) / best nginx',
      ratio(d.purser, dlNginx),
      ratio(d.purser, dlNginx) >= 1,
      '≥ 100 %',
    ],
    [
      'download: Purser (token) / best nginx',
      ratio(d['purser-token'], dlNginx),
      ratio(d['purser-token'], dlNginx) >= 1,
      '≥ 100 %',
    ],
    [
      'download: Purser (none) / Node TCP relay',
      ratio(d.purser, d.relay),
      ratio(d.purser, d.relay) >= GOALS.downloadVsRelay,
      '≥ 85 %',
    ],
    [
      'download: Purser (token) / Node TCP relay',
      ratio(d['purser-token'], d.relay),
      ratio(d['purser-token'], d.relay) >= GOALS.downloadVsRelay,
      '≥ 85 %',
    ],
    [
      'upload: Purser (none) / direct',
      ratio(u.purser, u.direct),
      ratio(u.purser, u.direct) >= GOALS.uploadVsDirect,
      '≥ 90 %',
    ],
    [
      'upload: Purser (token) / direct (auth.token registry)',
      ratio(u['purser-token'], u['direct-token']),
      ratio(u['purser-token'], u['direct-token']) >= GOALS.uploadVsDirect,
      '≥ 90 %',
    ],
    [
      'upload: Purser (none) / best nginx',
      ratio(u.purser, ulNginx),
      ratio(u.purser, ulNginx) >= 1,
      '≥ 100 %',
    ],
  ];
  lines.push(
    '**Ratios and goals** (ratios of the medians; "best nginx" is the faster of the two nginx configurations)',
    '',
  );
  lines.push('| comparison | ratio | goal | result |', '| --- | ---: | --- | --- |');
  for (const [name, v, ok, goal] of rows) {
    if (!Number.isFinite(v)) continue;
    lines.push(`| ${name} | ${pct(v)} | ${goal ?? '(information)'} | ${ok === undefined ? '' : pf(ok)} |`);
  }
  const sampled = Math.max(
    0,
    ...['purser', 'purser-token'].flatMap((id) => [d[id]?.peakRssMiB ?? 0, u[id]?.peakRssMiB ?? 0]),
  );
  lines.push(
    `| Purser peak RSS: VmHWM of either Purser process over the whole run (sampled VmRSS peak while streaming: ${fmt(sampled)} MiB) | ${fmt(peakRss)} MiB | < ${GOALS.rssMiB} MiB | ${pf(peakRss < GOALS.rssMiB)} |`,
  );
  lines.push('');
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

let cleaning = false;
async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  await Promise.all(children.map((c) => stopChild(c, 'SIGTERM', 3_000).catch(() => {})));
  if (tmp && env.PROXY_BENCH_KEEP !== '1') rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    log(`${sig}: stopping`);
    cleanup().then(() => process.exit(130));
  });

main().then(
  () => cleanup(),
  async (e) => {
    log(e instanceof Error ? e.stack : String(e));
    await cleanup();
    process.exitCode = 1;
  },
);
