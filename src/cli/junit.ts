import type { CaseResult } from './policy-test.js';

// XML 1.0 forbids most control characters even escaped; they are dropped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function esc(s: string): string {
  return s
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** JUnit XML (the subset CI systems read): one testcase per case, a failure with its diff. */
export function junitReport(
  suite: string,
  results: readonly CaseResult[],
  diffOf: (r: CaseResult) => string,
): string {
  const failures = results.filter((r) => !r.ok).length;
  let out = '<?xml version="1.0" encoding="UTF-8"?>\n';
  out += `<testsuites tests="${results.length}" failures="${failures}">\n`;
  out += `  <testsuite name="${esc(suite)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0">\n`;
  for (const r of results) {
    out += `    <testcase classname="${esc(suite)}" name="${esc(r.name)}"`;
    if (r.ok) {
      out += '/>\n';
      continue;
    }
    const bad = r.scopes.filter((s) => !s.ok).map((s) => s.key);
    out += `>\n      <failure message="${esc(`granted access differs for ${bad.join(', ') || 'the login'}`)}">${esc(diffOf(r))}</failure>\n    </testcase>\n`;
  }
  out += '  </testsuite>\n</testsuites>\n';
  return out;
}
