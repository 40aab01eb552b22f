// Every kind of client failure carries its stable code (clients/src/errors.ts), the message
// staying what people read.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readInputs } from '../../../clients/src/action/inputs.js';
import { loadConfig } from '../../../clients/src/credhelper/config.js';
import { credentialsFor } from '../../../clients/src/credhelper/credentials.js';
import { readJsonObject } from '../../../clients/src/docker/config.js';
import { type ClientErrorCode, HelperError } from '../../../clients/src/errors.js';
import { resolveSource } from '../../../clients/src/sources/auto.js';
import { runCommand } from '../../../clients/src/sources/command.js';
import { tempDir } from '../support.js';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>): string => `${b64({ alg: 'none' })}.${b64(claims)}.c2ln`;

async function code(f: () => unknown): Promise<ClientErrorCode | string> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof HelperError, String(e));
    return e.code;
  }
  return 'no error';
}

test('client failures carry stable codes', async () => {
  const t = tempDir();
  try {
    const bad = join(t.dir, 'bad.json');
    writeFileSync(bad, '{"registries": ');
    assert.equal(await code(() => loadConfig({ PURSER_CREDHELPER_CONFIG: bad })), 'CONFIG_INVALID');
    assert.equal(
      await code(() => loadConfig({ PURSER_REGISTRY: 'r.test', PURSER_TOKEN_SOURCE: 'x' })),
      'CONFIG_INVALID',
    );
    assert.equal(await code(() => readJsonObject(bad)), 'FILE_INVALID');
    assert.equal(await code(() => readInputs({})), 'INPUT_INVALID');
    const none = { type: 'auto', variable: 'NOPE', path: join(t.dir, 'none') } as const;
    assert.equal(await code(() => resolveSource(none, {})), 'SOURCE_UNAVAILABLE');
    assert.equal(await code(() => runCommand('exit 3', { PATH: process.env.PATH })), 'SOURCE_FAILED');
    const cfg = loadConfig({ HOME: t.dir, PURSER_REGISTRY: 'r.test', PURSER_TOKEN_SOURCE: 'gitlab' });
    const entry = cfg.registries.get('r.test')!;
    const expired = { HOME: t.dir, PURSER_ID_TOKEN: jwt({ exp: 1000 }) };
    assert.equal(await code(() => credentialsFor(entry, cfg, expired)), 'TOKEN_INVALID');
    assert.equal(await code(() => credentialsFor(entry, cfg, { PURSER_ID_TOKEN: 'x' })), 'TOKEN_INVALID');
  } finally {
    t.cleanup();
  }
});
