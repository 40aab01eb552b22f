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
  if (pattern) assert.match(`${r.stderr}\n${r.stdout}`, pattern, `${what} failed for another reason\n${describeRun(r)}`);
}

/** Denials as skopeo/podman print them for a registry that refuses a request or a token. */
export const DENIED = /unauthorized|denied|authentication required|insufficient_scope|invalid username\/password/i;
