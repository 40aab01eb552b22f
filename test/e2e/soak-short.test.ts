// The soak bench (issue 11: "a bench script with its own result line; CI may run a short
// version"), for 15 s at a fixed 400 req/s (the suite shares its machine with other tests, so
// no flat-out measurement of the maximum): `serve` with its default workers and log level
// answers the mix (anonymous pulls, cached static logins, refused logins) without an error,
// and its memory does not climb. The bound on RSS is looser than the bench's 10 %: fifteen
// seconds on a shared CI machine is not a soak, only a check that nothing leaks fast.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { run } from '../helpers/proc.js';

test('bench/soak.js --minutes 0.25 --rate 400: no errors, the planned rate held, RSS flat', async () => {
  const r = await run(
    process.execPath,
    [join(repoRoot, 'bench', 'soak.js'), '--minutes', '0.25', '--rate', '400'],
    {
      cwd: repoRoot,
      timeout: 180_000,
    },
  );
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const line = r.stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{"machine"'));
  assert.ok(line, `no result line in: ${r.stderr.slice(-2000)}`);
  const result = JSON.parse(line) as {
    rate: number;
    sent: number;
    ok: number;
    errors: number;
    firstError?: string;
    rssGrowth: number;
    perMinute: { requests: number }[];
  };
  assert.equal(result.errors, 0, result.firstError);
  assert.equal(result.rate, 400);
  assert.ok(result.sent >= 0.9 * result.rate * 15, `sent ${result.sent} at ${result.rate} req/s planned`);
  assert.equal(result.ok, result.sent);
  assert.ok(Math.abs(result.rssGrowth) < 0.25, `RSS changed ${(result.rssGrowth * 100).toFixed(1)} %`);
  // One row for the part-minute, all requests in it.
  assert.equal(result.perMinute.length, 1);
  assert.equal(result.perMinute[0]!.requests, result.sent);
  assert.match(r.stdout, /^soak: 0\.25 min at 400 req\/s \(as given\), .* 0 errors, /m);
});
