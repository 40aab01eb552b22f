// Assertions on command results that print the whole command, exit code and output when they fail.
import assert from 'node:assert/strict';
import { describeRun, type RunResult } from './proc.js';

export function assertOk(r: RunResult, what = 'command'): void {
  assert.equal(r.timedOut, false, `${what} timed out\n${describeRun(r)}`);
  assert.equal(r.code, 0, `${what} failed\n${describeRun(r)}`);
}

/** Non-zero exit, and (when given) stderr+stdout matching pattern. */
export function assertFails(r: RunResult, pattern?: RegExp, what = 'command'): void {
  assert.equal(r.timedOut, false, `${what} timed out\n${describeRun(r)}`);
  assert.notEqual(r.code, 0, `${what} unexpectedly succeeded\n${describeRun(r)}`);
  if (pattern)
    assert.match(`${r.stderr}\n${r.stdout}`, pattern, `${what} failed for another reason\n${describeRun(r)}`);
}

/** Any refusal, as skopeo/podman print it. */
export const DENIED =
  /unauthorized|denied|authentication required|insufficient_scope|invalid username\/password/i;

/**
 * The registry refused a request because the token lacks the access (skopeo/podman print
 * "requested access to the resource is denied" / "authentication required").
 */
export const NO_ACCESS =
  /requested access to the resource is denied|authentication required|insufficient_scope/i;

/** The token server (or htpasswd registry) answered 401 to the credentials themselves. */
export const BAD_CREDENTIALS = /invalid username\/password/i;
