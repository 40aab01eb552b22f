import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { bounded, createLogger, fastJsonLine, LOG_LIMITS } from '../../../src/util/log.js';

/** The line as the logger wrote it before its fast path: bounded copies, then JSON.stringify. */
function reference(
  time: string,
  level: string,
  msg: string,
  bound: object,
  fields: object | undefined,
): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...bound, ...fields }))
    out[k.length <= 64 ? k : `${k.slice(0, 64)}…(+${k.length - 64} chars)`] = bounded(
      v,
      1,
      k === 'error' ? LOG_LIMITS.error : LOG_LIMITS.string,
    );
  return `${JSON.stringify({ time, level, msg, ...out })}\n`;
}

describe('log lines', () => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.string({ maxLength: 300 }),
      // Quotes, backslashes, control characters, line separators, astral and lone surrogates:
      // what the fast path must quote exactly as JSON.stringify does.
      fc.string({ maxLength: 300, unit: 'binary' }),
      fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', 'a\udfffb', '😀'),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(tie('v'), { maxLength: 20 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 6 }),
    ),
  })).v;
  const fields = fc.dictionary(
    fc.oneof(
      fc.string({ maxLength: 70 }),
      fc.string({ maxLength: 70, unit: 'binary' }),
      fc.constantFrom('error', 'msg', 'a', 'k"ey', 'k\\ey', '\u0001'),
    ),
    value,
    {
      maxKeys: 20,
    },
  );

  test('the fast JSON line is byte for byte the bounded-copy line, or declines (property)', () => {
    let fast = 0;
    fc.assert(
      fc.property(fields, fc.option(fields, { nil: undefined }), (bound, f) => {
        const line = fastJsonLine('2026-12-01T00:00:00.000Z', 'info', 'token issued', bound, f);
        if (line === undefined) return;
        fast++;
        assert.equal(line, reference('2026-12-01T00:00:00.000Z', 'info', 'token issued', bound, f));
      }),
      { numRuns: 3000, seed: 3 },
    );
    assert.ok(fast > 300, `the fast path took only ${fast} of 3000 records`);
  });

  test('an access-log-shaped record takes the fast path and is bounded', () => {
    const rec = {
      method: 'GET',
      ip: '127.0.0.1',
      scope: ['repository:team/app:pull'],
      account: 'u'.repeat(1000),
      granted: [],
      refresh_token_issued: undefined,
      status: 200,
      ms: 0.42,
    };
    const line = fastJsonLine('t', 'info', 'token issued', {}, rec);
    assert.ok(line);
    assert.equal(line, reference('t', 'info', 'token issued', {}, rec));
    assert.ok(line.length < 600);
  });

  test('the logger writes the same line either way', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) }, { server: 'token' });
    log.info('token issued', { account: 'alice', when: new Date(0), server: 'proxy' });
    const rec = JSON.parse(lines[0]!);
    assert.equal(rec.server, 'proxy');
    assert.equal(rec.when, '1970-01-01T00:00:00.000Z');
    log.info('token issued', { account: 'alice', n: 1 });
    assert.match(
      lines[1]!,
      /^\{"time":"[^"]+","level":"info","msg":"token issued","server":"token","account":"alice","n":1\}\n$/,
    );
  });
});
