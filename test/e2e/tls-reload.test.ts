// `tls:` on the token and proxy listeners: replacing the certificate and key on disk (or
// SIGHUP) makes new handshakes use the new pair without a restart, an open keep-alive
// connection keeps working, an invalid pair is logged with the file at fault and the old one
// keeps serving, and minVersion refuses older clients (before and after a reload).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type SecureVersion, type TLSSocket } from 'node:tls';
import { waitFor } from '../helpers/issuer.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { makeSelfSigned } from '../helpers/test-ca.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

interface Pair {
  cert: string;
  key: string;
  fingerprint: string;
}

function makePair(dir: string, name: string): Pair {
  const { certFile: cert, keyFile: key } = makeSelfSigned(dir, name);
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

/** A real TLS handshake: resolves with the server certificate's SHA-256 fingerprint. */
function handshake(port: number, o: { maxVersion?: SecureVersion; minVersion?: SecureVersion } = {}) {
  return new Promise<{ fingerprint: string; protocol: string | null; socket: TLSSocket }>(
    (resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o }, () => {
        resolve({
          fingerprint: socket.getPeerCertificate().fingerprint256,
          protocol: socket.getProtocol(),
          socket,
        });
      });
      socket.once('error', reject);
    },
  );
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function fingerprintOf(port: number): Promise<string> {
  const h = await handshake(port);
  h.socket.destroy();
  return h.fingerprint;
}

/** One HTTP/1.1 keep-alive request on an open TLS socket; resolves with the status line. */
function requestOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      socket.off('data', onData);
      resolve(buf.split('\r\n')[0]!);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n`);
  });
}

describe('tls: certificate reload and minimum version', () => {
  let dir: string;
  let a: Pair;
  let b: Pair;
  let c: Pair;
  let live: { cert: string; key: string };
  let upstream: Server;
  let purser: Purser;
  const logLines = (re: RegExp) =>
    purser
      .logs()
      .split('\n')
      .filter((l) => re.test(l));
  const install = (p: Pair) => {
    // An editor's or cert-manager's way: write beside, then rename over.
    copyFileSync(p.cert, `${live.cert}.tmp`);
    copyFileSync(p.key, `${live.key}.tmp`);
    renameSync(`${live.cert}.tmp`, live.cert);
    renameSync(`${live.key}.tmp`, live.key);
  };
  const port = () => purser.port;
  const proxyPort = () => purser.proxyPort!;

  before(async () => {
    dir = makeTempDir('purser-tls-');
    const keys = await generateKeys(dir, 'ES256');
    a = makePair(dir, 'a');
    b = makePair(dir, 'b');
    c = makePair(dir, 'c');
    live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    install(a);
    upstream = createServer((_req, res) => res.writeHead(200).end('{}'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    purser = await startPurser(
      {
        tls: { cert: 'live.crt', key: 'live.key' },
        token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
        auth: { anonymous: true },
        acl: [{ match: { account: '' }, actions: ['pull'] }],
        proxy: {
          upstream: up,
          upstreamAuth: 'none',
          tls: { cert: 'live.crt', key: 'live.key', minVersion: 'TLSv1.3' },
        },
      },
      { dir },
    );
  });

  after(async () => {
    await purser?.stop();
    await new Promise((r) => upstream?.close(r));
    if (dir) removeDir(dir);
  });

  test('both listeners serve the configured certificate, and log its fingerprint', async () => {
    assert.match(purser.url, /^https:/);
    assert.equal(await fingerprintOf(port()), a.fingerprint);
    assert.equal(await fingerprintOf(proxyPort()), a.fingerprint);
    assert.equal(logLines(/"msg":"tls certificate loaded".*"trigger":"start"/).length, 2);
  });

  test('replacing the files on disk: new handshakes get the new certificate, open connections keep working', async () => {
    const open = await handshake(port());
    assert.equal(open.fingerprint, a.fingerprint);
    assert.match(await requestOn(open.socket, '/healthz'), /^HTTP\/1\.1 200/);
    install(b);
    await until(async () => (await fingerprintOf(port())) === b.fingerprint, 'the token listener on pair b');
    await until(async () => (await fingerprintOf(proxyPort())) === b.fingerprint, 'the proxy on pair b');
    // The connection made before the swap still answers (no restart, nothing dropped).
    assert.match(await requestOn(open.socket, '/healthz'), /^HTTP\/1\.1 200/);
    open.socket.destroy();
    assert.ok(logLines(/"msg":"tls certificate loaded".*"trigger":"file change"/).length >= 2);
  });

  test('an invalid key is logged with its file; the previous certificate keeps serving', async () => {
    const before = logLines(/tls reload failed/).length;
    writeFileSync(live.key, 'not a key\n');
    await waitFor(() => logLines(/tls reload failed/).length >= before + 2, 'the refused reload', 10_000);
    const line = logLines(/tls reload failed/).at(-1)!;
    assert.match(line, new RegExp(`"file":"${live.key.replace(/[/.]/g, '\\$&')}"`));
    assert.match(line, /not a PEM private key/);
    assert.doesNotMatch(line, /not a key/, 'the file content is not logged');
    assert.equal(await fingerprintOf(port()), b.fingerprint);
    // A key that parses but is another certificate's: refused, naming the key file.
    copyFileSync(c.key, live.key);
    await waitFor(
      () => logLines(/tls reload failed.*not the private key of the certificate/).length >= 1,
      'the mismatched pair refused',
      10_000,
    );
    assert.equal(await fingerprintOf(port()), b.fingerprint);
  });

  test('SIGHUP reloads the certificate', async () => {
    // Written in place, then the signal: the SIGHUP reload (no debounce) sees the new pair first.
    writeFileSync(live.cert, readFileSync(c.cert));
    writeFileSync(live.key, readFileSync(c.key));
    purser.proc.child.kill('SIGHUP');
    await waitFor(
      () =>
        logLines(new RegExp(`tls certificate loaded.*"trigger":"SIGHUP".*"fingerprint":"${c.fingerprint}"`))
          .length >= 1,
      'a SIGHUP reload to pair c',
      10_000,
    );
    assert.equal(await fingerprintOf(port()), c.fingerprint);
  });

  test('minVersion: a TLSv1.2 client is refused by the TLSv1.3 proxy, before and after reloads', async () => {
    const ok = await handshake(port(), { maxVersion: 'TLSv1.2' });
    assert.equal(ok.protocol, 'TLSv1.2', 'the token listener (default TLSv1.2) accepts it');
    ok.socket.destroy();
    await assert.rejects(handshake(proxyPort(), { maxVersion: 'TLSv1.2' }), /version|protocol|alert/i);
    const v13 = await handshake(proxyPort());
    assert.equal(v13.protocol, 'TLSv1.3');
    v13.socket.destroy();
  });

  test('a TLSv1.1 client is refused by the default minimum', async () => {
    await assert.rejects(
      handshake(port(), { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' }),
      /version|protocol|alert|no protocols/i,
    );
  });

  test('curl sees the current certificate', () => {
    const out = execFileSync('curl', [
      '-sk',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `${purser.url}/healthz`,
    ]);
    assert.equal(out.toString(), '200');
  });
});

describe('tls: with workers, a renewal applies while the config file is refused', () => {
  let dir: string;
  let purser: Purser;

  after(async () => {
    await purser?.stop();
    if (dir) removeDir(dir);
  });

  test('the primary refuses the typo, every worker still re-reads the certificate', async () => {
    dir = makeTempDir('purser-tls-workers-');
    const keys = await generateKeys(dir, 'ES256');
    const a = makePair(dir, 'a');
    const b = makePair(dir, 'b');
    const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    copyFileSync(a.cert, live.cert);
    copyFileSync(a.key, live.key);
    purser = await startPurser(
      {
        workers: 2,
        tls: { cert: 'live.crt', key: 'live.key' },
        token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
        auth: { anonymous: true },
        acl: [{ match: { account: '' }, actions: ['pull'] }],
      },
      { dir },
    );
    assert.equal(await fingerprintOf(purser.port), a.fingerprint);
    writeFileSync(purser.configPath, `${readFileSync(purser.configPath, 'utf8')}\nnot-a-key: [\n`);
    writeFileSync(live.cert, readFileSync(b.cert));
    writeFileSync(live.key, readFileSync(b.key));
    purser.proc.child.kill('SIGHUP');
    // Both workers (connections are spread round-robin): every handshake gets pair b.
    await until(async () => (await fingerprintOf(purser.port)) === b.fingerprint, 'pair b');
    for (let i = 0; i < 6; i++) assert.equal(await fingerprintOf(purser.port), b.fingerprint);
    assert.match(purser.logs(), /configuration reload failed; keeping the previous configuration/);
  });
});
