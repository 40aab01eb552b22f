// When a token is refreshed: half of the remaining life as granted, ±10 %, never sooner than 1 s.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../../kube/src/duration.js';
import { backoffMs, MIN_REQUEUE_MS, refreshDelayMs } from '../../../kube/src/schedule.js';

test('half the remaining life, jittered within ±10 %', () => {
  const now = 1_000_000;
  const exp = new Date(now + 600_000);
  assert.equal(
    refreshDelayMs(exp, now, () => 0),
    270_000,
  );
  assert.equal(
    refreshDelayMs(exp, now, () => 0.5),
    300_000,
  );
  assert.equal(
    refreshDelayMs(exp, now, () => 1),
    330_000,
  );
  // From what is LEFT: 100 s into a 600 s token, the refresh is at about 250 s from now.
  assert.equal(
    refreshDelayMs(exp, now + 100_000, () => 0.5),
    250_000,
  );
  assert.equal(
    refreshDelayMs(new Date(now + 500), now, () => 0.5),
    MIN_REQUEUE_MS,
  );
});

test('backoff doubles to its cap, jittered in [base/2, base]', () => {
  assert.equal(
    backoffMs(1, 1000, 300_000, () => 1),
    1000,
  );
  assert.equal(
    backoffMs(3, 1000, 300_000, () => 1),
    4000,
  );
  assert.equal(
    backoffMs(3, 1000, 300_000, () => 0),
    2000,
  );
  assert.equal(
    backoffMs(40, 1000, 300_000, () => 1),
    300_000,
  );
});

test('durations: Go style or bare seconds; anything else is a usage error', () => {
  assert.equal(parseDuration('x', '1h30m'), 5_400_000);
  assert.equal(parseDuration('x', '1500ms'), 1500);
  assert.equal(parseDuration('x', '90'), 90_000);
  for (const bad of ['', '10 m', '1d', 'm', '10m5'])
    assert.throws(() => parseDuration('token-expiration', bad), /--token-expiration: not a duration/);
});
