// What the client tools keep and read is bounded: the token cache (entries and file size), a
// token command's output and the GitHub ID-token answer. A misbehaving command or endpoint
// fails fast with a clear message instead of filling memory or the disk.
import assert from 'node:assert/strict';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  MAX_CACHE_ENTRIES,
  MAX_CACHE_FILE_BYTES,
  readCache,
  writeCache,
} from '../../../clients/src/credhelper/cache.js';
import { MAX_COMMAND_OUTPUT, runCommand } from '../../../clients/src/sources/command.js';
import { fetchGithubIdToken, MAX_RESPONSE_BYTES } from '../../../clients/src/sources/github.js';
import { tempDir } from '../support.js';

const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>): string => `${b64({ alg: 'none' })}.${b64(claims)}.c2ln`;
const key = (i: number): string => i.toString(16).padStart(40, '0');

test(`the token cache keeps at most ${MAX_CACHE_ENTRIES} entries, drops expired ones and stale temp files`, () => {
  const t = tempDir();
  try {
    const dir = join(t.dir, 'cache');
    writeCache(dir, key(0), jwt({ exp: now() + 600 }));
    // Expired entries and a temp file a killed helper left behind, as found on a runner's disk.
    for (let i = 1; i <= 5; i++)
      writeFileSync(join(dir, `${key(i)}.json`), JSON.stringify({ token: 'x', exp: 1 }));
    writeFileSync(join(dir, `.${key(6)}.abcd.tmp`), '{');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, `.${key(6)}.abcd.tmp`), old, old);
    for (let i = 10; i < 10 + MAX_CACHE_ENTRIES + 40; i++) writeCache(dir, key(i), jwt({ exp: now() + 600 }));
    const names = readdirSync(dir);
    assert.equal(names.length, MAX_CACHE_ENTRIES, 'entries');
    assert.ok(!names.some((n) => n.endsWith('.tmp')), 'stale temp file removed');
    for (let i = 1; i <= 5; i++) assert.ok(!names.includes(`${key(i)}.json`), `expired entry ${i} removed`);
    const last = key(10 + MAX_CACHE_ENTRIES + 39);
    assert.ok(names.includes(`${last}.json`), 'the newest entry is kept');
    assert.ok(readCache(dir, last, 60));
  } finally {
    t.cleanup();
  }
});

test(`a cache file over ${MAX_CACHE_FILE_BYTES / 1024} KiB is not read`, () => {
  const t = tempDir();
  try {
    const token = jwt({ exp: now() + 600, pad: 'p'.repeat(MAX_CACHE_FILE_BYTES) });
    writeFileSync(join(t.dir, `${key(1)}.json`), JSON.stringify({ token, exp: now() + 600 }));
    assert.equal(readCache(t.dir, key(1), 60), undefined);
    const small = jwt({ exp: now() + 600 });
    writeFileSync(join(t.dir, `${key(2)}.json`), JSON.stringify({ token: small, exp: now() + 600 }));
    assert.equal(readCache(t.dir, key(2), 60), small);
  } finally {
    t.cleanup();
  }
});

test(`a token command printing more than ${MAX_COMMAND_OUTPUT / 1024} KiB is stopped at once`, async () => {
  const started = Date.now();
  await assert.rejects(
    runCommand(['yes', 'not-a-jwt'], { PATH: process.env.PATH }, 20_000),
    /token command "yes not-a-jwt" printed more than 64 KiB: not a JWT/,
  );
  assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms, not at the timeout`);
});

test(`a GitHub ID-token answer over ${MAX_RESPONSE_BYTES / 1024} KiB is refused without reading it all`, async () => {
  let written = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    // An endless answer: stops only when the client goes away.
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk)) written += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => res.destroy());
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/idtoken?api-version=2.0`;
  try {
    const started = Date.now();
    await assert.rejects(
      fetchGithubIdToken(
        { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'rt' },
        'purser.test',
        { timeoutMs: 20_000, attempts: 1 },
      ),
      /GitHub ID token request: the answer \(HTTP 200\) is larger than 256 KiB/,
    );
    assert.ok(Date.now() - started < 10_000, `refused after ${Date.now() - started} ms`);
    assert.ok(written < 64 * 1024 * 1024, `the server wrote ${written} bytes`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
