import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHtpasswd, readHtpasswd } from '../../../src/authn/htpasswd.js';
import { ConfigError } from '../../../src/core/errors.js';
import { cheapHash } from '../support.js';

function configError(fn: () => unknown, ...includes: string[]): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  for (const inc of includes)
    assert.ok(caught.message.includes(inc), `${JSON.stringify(caught.message)} lacks ${JSON.stringify(inc)}`);
  return caught;
}

describe('htpasswd', () => {
  test('bcrypt entries are read; blank lines and comments skipped; CRLF ok', () => {
    const h1 = cheapHash('a');
    const h2 = cheapHash('b').replace('$2b$', '$2y$');
    const m = parseHtpasswd(`# users\n\nalice:${h1}\r\nbob:${h2}\n`, 'users.htpasswd');
    assert.deepEqual(
      [...m],
      [
        ['alice', h1],
        ['bob', h2],
      ],
    );
  });

  const refused: [string, string, string][] = [
    ['$apr1$', 'alice:$apr1$abcdefgh$0123456789abcdefghijkl', 'MD5 (apr1)'],
    ['{SHA}', 'alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', 'SHA-1'],
    ['SHA-crypt', 'alice:$6$salt$hash', 'SHA-crypt'],
    ['crypt', 'alice:abJnggxhB/yJU', 'unsupported scheme'],
    ['plaintext', 'alice:secret', 'unsupported scheme'],
  ];
  for (const [why, line, scheme] of refused) {
    test(`${why} is refused naming the line number`, () => {
      const e = configError(
        () => parseHtpasswd(`# header\n\n${line}\n`, 'users.htpasswd'),
        'users.htpasswd',
        'line 3',
        scheme,
        '"alice"',
      );
      assert.equal(e.path, 'line 3');
    });
  }

  test('a line without a colon or with an empty user is refused', () => {
    configError(() => parseHtpasswd('justtext\n', 'h'), 'line 1', 'user:hash');
    configError(() => parseHtpasswd(`:${cheapHash('x')}\n`, 'h'), 'line 1');
  });

  test('a user twice is refused', () => {
    const h = cheapHash('x');
    configError(() => parseHtpasswd(`a:${h}\na:${h}\n`, 'h'), 'line 2', 'twice');
  });

  test('readHtpasswd names an unreadable file', () => {
    configError(() => readHtpasswd('/nonexistent/purser.htpasswd'), '/nonexistent/purser.htpasswd', 'ENOENT');
  });
});
