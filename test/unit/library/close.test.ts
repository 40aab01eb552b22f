// What using the library leaves behind: after close() a process exits by itself (run in a
// child process without --test-force-exit), and importing it registers no process handler.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestIssuer } from '../../helpers/issuer.js';

const dist = join(import.meta.dirname, '..', '..', '..');

/** Runs a node script; resolves with its exit code and output, or 'timeout' after `ms`. */
function runNode(
  args: string[],
  env: Record<string, string>,
  ms: number,
  onOut?: (text: string) => void,
): Promise<{ code: number | null | 'timeout'; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c;
      onOut?.(out);
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'timeout', out, err });
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** Open connections once they stop changing (a FIN takes a moment to arrive). */
async function settledConnections(issuer: TestIssuer): Promise<number> {
  for (let i = 0; i < 10 && issuer.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return issuer.openConnections;
}

describe('library: nothing left open', () => {
  let issuer: TestIssuer;
  before(async () => {
    issuer = await TestIssuer.start();
  });
  after(() => issuer.close());

  test('after close() no connection to the issuer stays open and the process exits by itself (OIDC keys fetched, a reload done)', async () => {
    const jwt = await issuer.github({ aud: 'svc', repository: 'acme/app' });
    let afterClose: Promise<number> | undefined;
    const r = await runNode(
      [join(dist, 'test', 'unit', 'library', 'fixtures', 'close-child.js')],
      { PURSER_TEST_ISSUER: issuer.url, PURSER_TEST_JWT: jwt },
      20_000,
      (out) => {
        // The child is still running: its connections to the issuer must be gone already.
        if (out.includes('closed') && !afterClose) afterClose = settledConnections(issuer);
      },
    );
    assert.equal(r.code, 0, `child: ${r.code}\n${r.out}\n${r.err}`);
    assert.equal(r.out, 'closed\n');
    assert.ok(issuer.hits.jwks >= 1, 'the child fetched the issuer keys');
    assert.equal(await afterClose, 0, 'connections to the issuer still open after close()');
  });

  test('importing the library registers no process handler', async () => {
    const script = `
      const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'uncaughtException', 'unhandledRejection', 'warning'];
      const count = () => events.map((e) => process.listenerCount(e)).join(',');
      const before = count();
      await import(${JSON.stringify(join(dist, 'src', 'index.js'))});
      await import(${JSON.stringify(join(dist, 'src', 'library', 'fastify.js'))});
      process.stdout.write(before === count() ? 'none' : 'before ' + before + ' after ' + count());
    `;
    const r = await runNode(['--input-type=module', '-e', script], {}, 20_000);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'none');
  });
});
