import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bcryptVerify as verify } from '../../../src/authn/bcrypt.js';
import { main } from '../../../src/cli/main.js';
import { libtrustKeyId } from '../../../src/token/keyid.js';
import { cheapHash, type KeyFiles, makeKeys, tempDir, writeFile } from '../support.js';

const BIN = join(import.meta.dirname, '..', '..', '..', '..', 'bin', 'purser.js');

function run(
  args: string[],
  stdin?: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** Runs the CLI in this process with captured I/O (for cases that need no real process). */
async function inproc(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (x) => {
      stdout += x;
    },
    stderr: (x) => {
      stderr += x;
    },
    stdin: async () => stdin,
  });
  return { code, stdout, stderr };
}

const oneLine = (s: string) => s.trimEnd().split('\n').length === 1;

describe('purser CLI', { concurrency: true }, () => {
  let keys: KeyFiles & { cleanup: () => void };
  const t = tempDir('purser-unit-cli-');
  const good = (extra = '') =>
    `listen: 127.0.0.1:0\ntoken:\n  issuer: purser\n  service: registry.local\n  key: ${keys.keyPath}\n  certificate: ${keys.crtPath}\n` +
    `users:\n  alice: "${cheapHash('pw')}"\nacl:\n  - match: { account: alice }\n    actions: ["*"]\n  - match: { account: "" }\n    actions: [pull]\n${extra}`;

  before(async () => {
    keys = await makeKeys();
  });
  after(() => {
    keys.cleanup();
    t.cleanup();
  });

  test('no command: usage on stdout, exit 2; --help: exit 0', async () => {
    const r = await inproc([]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /Usage: purser/);
    assert.equal((await inproc(['--help'])).code, 0);
  });

  test('every command has --help (exit 0)', async () => {
    const rs = await Promise.all(
      ['serve', 'hash', 'check', 'doctor', 'keys'].map((c) => inproc([c, '--help'])),
    );
    for (const r of rs) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Usage: purser/);
    }
  });

  test('unknown command -> exit 2, one line on stderr', async () => {
    const r = await run(['nosuchcommand']);
    assert.equal(r.code, 2);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, /nosuchcommand/);
  });

  test('unknown flag -> exit 2 naming the flag', async () => {
    const r = await inproc(['serve', '--confg', 'x.yml']);
    assert.equal(r.code, 2);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, /confg/);
  });

  test('serve --workers: not a whole number from 1 to 256, or without --config -> exit 2 naming it', async () => {
    const f = writeFile(t.dir, 'w.yml', good());
    const rs = await Promise.all([
      inproc(['serve', '--config', f, '--workers', '0']),
      inproc(['serve', '--config', f, '--workers', '1.5']),
      inproc(['serve', '--config', f, '--shutdown-timeout', 'soon']),
      inproc(['serve', '--workers', '2']),
    ]);
    for (const r of rs) {
      assert.equal(r.code, 2, r.stderr);
      assert.ok(oneLine(r.stderr), r.stderr);
    }
    assert.match(rs[0]!.stderr, /--workers: expected an integer from 1 to 256, got "0"/);
    assert.match(rs[1]!.stderr, /--workers/);
    assert.match(rs[2]!.stderr, /--shutdown-timeout/);
    assert.match(rs[3]!.stderr, /--workers needs --config/);
  });

  test('serve --config with an unknown key -> exit 2, one stderr line naming the file and key', async () => {
    const f = writeFile(
      t.dir,
      'bad.yml',
      good().replace('  service: registry.local\n', '  service: registry.local\n  keyid: thumbprint\n'),
    );
    const r = await run(['serve', '--config', f]);
    assert.equal(r.code, 2);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.ok(r.stderr.includes(f), r.stderr);
    assert.match(r.stderr, /token.*keyid/);
    assert.equal(r.stdout, '');
  });

  test('serve --config with a bad value, a missing file, an unreadable key -> exit 2', async () => {
    const bad = writeFile(t.dir, 'badval.yml', good().replace('listen: 127.0.0.1:0', 'listen: nowhere'));
    const missingKey = writeFile(t.dir, 'nokey.yml', good().replace(keys.keyPath, join(t.dir, 'absent.key')));
    const rs = await Promise.all([
      inproc(['serve', '--config', bad]),
      inproc(['serve', '--config', join(t.dir, 'missing.yml')]),
      inproc(['serve', '--config', missingKey]),
    ]);
    for (const [r, inc] of [
      [rs[0]!, 'listen'],
      [rs[1]!, 'missing.yml'],
      [rs[2]!, 'absent.key'],
    ] as const) {
      assert.equal(r.code, 2, r.stderr);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.ok(r.stderr.includes(inc), r.stderr);
    }
  });

  test('serve with a corrupt certificate file -> exit 2 naming the file', async () => {
    const crt = writeFile(
      t.dir,
      'corrupt.crt',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    );
    const f = writeFile(t.dir, 'corrupt.yml', good().replace(keys.crtPath, crt));
    const r = await inproc(['serve', '--config', f]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.ok(r.stderr.includes('corrupt.crt') || r.stderr.includes(keys.keyPath), r.stderr);
  });

  test('serve with listen port 70000 -> exit 2 naming listen', async () => {
    const f = writeFile(t.dir, 'port.yml', good().replace('listen: 127.0.0.1:0', 'listen: 127.0.0.1:70000'));
    const r = await inproc(['serve', '--config', f]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /listen/);
  });

  test('serve: starts, answers /healthz and /token, stops on SIGTERM with exit 0', async () => {
    const f = writeFile(t.dir, 'good.yml', good());
    const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--config', f], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const origin = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error(`no listening line in ${buf}`)), 30_000);
        child.stdout?.setEncoding('utf8').on('data', (c: string) => {
          buf += c;
          const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buf);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${buf}`)));
      });
      assert.equal((await fetch(`${origin}/healthz`)).status, 200);
      const tok = await fetch(`${origin}/token?scope=repository:a:pull`);
      assert.equal(tok.status, 200);
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('keys generate --alg ES384 -> exit 2 and nothing written', async () => {
    const out = join(t.dir, 'k384');
    const r = await run(['keys', 'generate', '--alg', 'ES384', '--out', out]);
    assert.equal(r.code, 2);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, /--alg/);
    assert.equal(existsSync(join(out, 'token.key')), false);
  });

  test('keys generate without --out, or an unknown subcommand -> exit 2', async () => {
    const [a, b] = await Promise.all([inproc(['keys', 'generate']), inproc(['keys', 'rotate'])]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--out/);
    assert.equal(b.code, 2);
  });

  test('keys generate writes a PKCS#8 key (0600) and its certificate, prints the key ids; refuses to overwrite', async () => {
    const out = join(t.dir, 'gen');
    const r = await inproc(['keys', 'generate', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const keyPem = readFileSync(join(out, 'token.key'), 'utf8');
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(statSync(join(out, 'token.key')).mode & 0o777, 0o600);
    const cert = new X509Certificate(readFileSync(join(out, 'token.crt')));
    const pub = createPublicKey(keyPem);
    assert.ok(cert.verify(pub));
    assert.ok(r.stdout.includes(libtrustKeyId(pub)), r.stdout);
    const again = await inproc(['keys', 'generate', '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /--force/);
    assert.equal(readFileSync(join(out, 'token.key'), 'utf8'), keyPem, 'not overwritten');
    const forced = await inproc(['keys', 'generate', '--out', out, '--force', '--alg', 'rs256']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(createPublicKey(readFileSync(join(out, 'token.key'), 'utf8')).asymmetricKeyType, 'rsa');
  });

  test('hash: stdin "pw\\n" gives a $2b$ hash that verifies "pw" and not "pw\\n"', async () => {
    const r = await run(['hash'], 'pw\n');
    assert.equal(r.code, 0, r.stderr);
    const h = r.stdout.trim();
    assert.match(h, /^\$2b\$12\$[./A-Za-z0-9]{53}$/);
    assert.equal(await verify('pw', h), true);
    assert.equal(await verify('pw\n', h), false);
  });

  test('hash: only one trailing newline is stripped; CRLF too', async () => {
    const [a, b] = await Promise.all([
      inproc(['hash', '--cost', '4'], 'pw\n\n'),
      inproc(['hash', '--cost', '4'], 'pw\r\n'),
    ]);
    assert.equal(await verify('pw\n', a.stdout.trim()), true);
    assert.equal(await verify('pw', b.stdout.trim()), true);
  });

  test('hash: empty stdin or a bad --cost -> exit 2', async () => {
    const [a, b, c] = await Promise.all([
      inproc(['hash'], ''),
      inproc(['hash', '--cost', '3'], 'pw'),
      inproc(['hash', '--cost', 'x'], 'pw'),
    ]);
    for (const r of [a, b, c]) {
      assert.equal(r.code, 2, r.stderr);
      assert.ok(oneLine(r.stderr), r.stderr);
    }
  });

  test('the hash works in a users: entry of the config', async () => {
    const r = await inproc(['hash', '--cost', '4'], 's3cret\n');
    const f = writeFile(t.dir, 'hashed.yml', good().replace(/alice: ".*"/, `alice: "${r.stdout.trim()}"`));
    const c = await inproc(
      [
        'check',
        '--config',
        f,
        '--user',
        'alice',
        '--password-stdin',
        '--scope',
        'repository:a/b:push',
        '--json',
      ],
      's3cret\n',
    );
    assert.equal(c.code, 0, c.stderr);
    const out = JSON.parse(c.stdout) as { identity: { account: string }; access: unknown };
    assert.equal(out.identity.account, 'alice');
    assert.deepEqual(out.access, [{ type: 'repository', name: 'a/b', actions: ['push'] }]);
  });

  test('check --anonymous explains each decision; bad scope -> exit 2; wrong password -> exit 1', async () => {
    const f = writeFile(t.dir, 'check.yml', good());
    const [a, b, c] = await Promise.all([
      inproc(['check', '--config', f, '--anonymous', '--scope', 'repository:a:pull,push']),
      inproc(['check', '--config', f, '--anonymous', '--scope', 'repository:A:pull']),
      inproc(
        ['check', '--config', f, '--user', 'alice', '--password-stdin', '--scope', 'repository:a:pull'],
        'nope\n',
      ),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /pull\s+granted by acl\[1\]/);
    assert.match(a.stdout, /push\s+DENIED/);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--scope/);
    assert.equal(c.code, 1);
    assert.ok(!c.stderr.includes('nope'));
  });

  test('doctor prints the key id in every form and the registry snippets', async () => {
    const f = writeFile(t.dir, 'doctor.yml', good());
    const r = await inproc(['doctor', '--config', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(keys.libtrust), 'libtrust kid');
    assert.ok(r.stdout.includes(keys.thumbprint), 'thumbprint');
    assert.ok(r.stdout.includes(keys.crtPath), 'certificate for rootcertbundle');
    assert.match(r.stdout, /rootcertbundle:/);
    assert.match(r.stdout, /issuer: purser/);
    assert.match(r.stdout, /service: registry\.local/);
  });

  test('doctor without --config -> exit 2', async () => {
    const r = await inproc(['doctor']);
    assert.equal(r.code, 2);
  });

  test('check --json: access carries the resource class like the token does', async () => {
    const f = writeFile(t.dir, 'check-class.yml', good());
    const r = await inproc([
      'check',
      '--config',
      f,
      '--anonymous',
      '--scope',
      'repository(plugin):x/y:pull',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { access: unknown }).access, [
      { type: 'repository', class: 'plugin', name: 'x/y', actions: ['pull'] },
    ]);
  });
});
