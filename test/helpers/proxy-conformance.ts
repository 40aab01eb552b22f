// The differential conformance suite for one upstream mode: every case of conformance.ts
// against the bare registry and through the proxy, plus the wire-level cases (absolute-form
// request targets, Expect: 100-continue) that only raw sockets and curl show.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Access,
  bytes,
  CASES,
  type ConformanceTarget,
  runDifferential,
  sha256,
  TOKEN_CASES,
  transcript,
  withQuery,
} from './conformance.js';
import { withLogs } from './logs.js';
import { run } from './proc.js';
import {
  ALICE,
  BOB,
  basic,
  CAROL,
  type ProxyStack,
  SERVICE,
  startProxyStack,
  UPSTREAM_USER,
} from './proxy.js';
import { makeTempDir, removeDir } from './tmp.js';
import { rawExchange, wire } from './wire.js';

type Mode = 'none' | 'basic' | 'token';

export interface ConformanceSuiteOptions {
  /** Case name (or wire case name) → why it is a known finding (the test is marked todo). */
  todo?: Record<string, string>;
}

/** The wire-level cases, named like CASES for `todo`. */
export const WIRE_CASES = [
  'absolute-form PUT',
  'curl -T (Expect: 100-continue)',
  'Expect: 100-continue refused before the body',
  'a rate-limited login stays 429 with Retry-After',
] as const;

/** auth.failedLogins.max for the suite's stack (low, so a lockout takes few requests). */
const MAX_FAILED_LOGINS = 3;

export function proxyConformanceSuite(mode: Mode, opts: ConformanceSuiteOptions = {}): void {
  const todo = opts.todo ?? {};
  for (const k of Object.keys(todo))
    if (!(k in CASES) && !(k in TOKEN_CASES) && !(WIRE_CASES as readonly string[]).includes(k))
      throw new Error(`unknown case ${k}`);
  const mark = (name: string): { todo?: string } => (todo[name] ? { todo: todo[name] } : {});

  describe(`conformance through the proxy, upstreamAuth ${mode}: the same answers as the bare registry`, {
    timeout: 120_000,
  }, () => {
    let st: ProxyStack | undefined;
    const prefix = `conf${randomBytes(3).toString('hex')}`;
    const logs = () => st?.logSources() ?? [];

    /** A token Purser issues to `who` for this access. */
    const token = async (who: { username: string; password: string }, access: Access[]) => {
      const q = new URLSearchParams({ service: SERVICE });
      for (const a of access) q.append('scope', `repository:${a.repo}:${a.actions}`);
      const res = await fetch(`${st!.purser.url}/token?${q}`, { headers: { authorization: basic(who) } });
      const body = (await res.json()) as { token?: string };
      assert.equal(res.status, 200, `token for ${who.username}: ${JSON.stringify(body)}`);
      return body.token!;
    };
    const bearer = async (access: Access[]) => ({ authorization: `Bearer ${await token(ALICE, access)}` });

    const direct: ConformanceTarget = {
      label: 'bare',
      get base() {
        return st!.registry.url;
      },
      auth: async (access): Promise<Record<string, string>> => {
        if (mode === 'none') return {};
        if (mode === 'basic') return { authorization: basic(UPSTREAM_USER) };
        return bearer(access);
      },
    };
    // Through the proxy, the same Purser-issued token (in token mode the very same credential).
    const proxy: ConformanceTarget = {
      label: 'thru',
      get base() {
        return st!.proxyUrl;
      },
      auth: bearer,
    };

    before(async () => {
      st = await startProxyStack({
        upstream: mode,
        extra: { auth: { failedLogins: { max: MAX_FAILED_LOGINS, windowSeconds: 600 } } },
      });
    });
    after(async () => {
      await st?.stop();
    });

    for (const name of [...Object.keys(CASES), ...(mode === 'token' ? Object.keys(TOKEN_CASES) : [])]) {
      test(
        name,
        mark(name),
        withLogs(logs, async () => {
          const r = await runDifferential(name, direct, proxy, prefix);
          assert.deepEqual(
            r.diff,
            [],
            `the proxy answers differently from the bare registry (direct vs proxy):\n${r.diff.join('\n')}\n` +
              `--- direct\n${transcript(r.direct)}\n--- proxy\n${transcript(r.proxy)}`,
          );
        }),
      );
    }

    /** Starts an upload on `t` and returns its absolute Location with the digest of `data` added. */
    const startUpload = async (t: ConformanceTarget, repo: string, data: Buffer): Promise<string> => {
      const auth = await t.auth([{ repo, actions: '*' }]);
      const res = await wire({ method: 'POST', url: `${t.base}/v2/${repo}/blobs/uploads/`, headers: auth });
      assert.equal(res.status, 202, `${t.label} POST: ${res.status} ${res.body.toString()}`);
      return withQuery(new URL(res.headers.location!, t.base).toString(), { digest: sha256(data) });
    };

    test(
      'absolute-form PUT',
      mark('absolute-form PUT'),
      withLogs(logs, async () => {
        // RFC 9112 §3.2.2: a server MUST accept the absolute form; Node registry clients send it.
        const data = bytes('absolute-form', 700);
        const seen: Record<string, number[]> = {};
        for (const t of [direct, proxy]) {
          const repo = `${prefix}-abs/${t.label}`;
          const url = await startUpload(t, repo, data);
          const u = new URL(url);
          const auth = await t.auth([{ repo, actions: '*' }]);
          const head = [
            `PUT ${url} HTTP/1.1`,
            `Host: ${u.host}`,
            ...Object.entries(auth).map(([k, v]) => `${k}: ${v}`),
            'Content-Type: application/octet-stream',
            `Content-Length: ${data.length}`,
            'Connection: close',
          ].join('\r\n');
          const ex = await rawExchange({ host: u.hostname, port: Number(u.port) }, head, data);
          seen[t === direct ? 'direct' : 'proxy'] = ex.statuses;
          const check = await wire({
            method: 'HEAD',
            url: `${t.base}/v2/${repo}/blobs/${sha256(data)}`,
            headers: auth,
          });
          seen[`${t === direct ? 'direct' : 'proxy'} HEAD`] = [check.status];
        }
        assert.deepEqual(seen, { direct: [201], 'direct HEAD': [200], proxy: [201], 'proxy HEAD': [200] });
      }),
    );

    test(
      'curl -T (Expect: 100-continue)',
      mark('curl -T (Expect: 100-continue)'),
      withLogs(logs, async () => {
        // curl adds Expect: 100-continue to uploads above 1 MiB.
        const dir = makeTempDir('purser-conf-curl-');
        try {
          const data = bytes('curl-expect', 2 * 1024 * 1024 + 17);
          const file = join(dir, 'blob');
          writeFileSync(file, data);
          const seen: Record<string, string> = {};
          for (const t of [direct, proxy]) {
            const repo = `${prefix}-curl/${t.label}`;
            const url = await startUpload(t, repo, data);
            const auth = await t.auth([{ repo, actions: '*' }]);
            const r = await run(
              'curl',
              [
                '-sS',
                '-v',
                '-o',
                '/dev/null',
                '-w',
                '%{http_code}',
                '-T',
                file,
                ...Object.entries(auth).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
                '-H',
                'Content-Type: application/octet-stream',
                url,
              ],
              { timeout: 30_000 },
            );
            assert.match(r.stderr, /> Expect: 100-continue/i, 'curl did not send Expect: 100-continue');
            seen[t === direct ? 'direct' : 'proxy'] = r.stdout.trim();
          }
          assert.deepEqual(seen, { direct: '201', proxy: '201' });
        } finally {
          removeDir(dir);
        }
      }),
    );

    test(
      'Expect: 100-continue refused before the body',
      mark('Expect: 100-continue refused before the body'),
      withLogs(logs, async () => {
        // bob may only pull team/*: the proxy must refuse on the headers, without inviting the body.
        const data = bytes('expect-refused', 256 * 1024);
        const repo = `team/${prefix}-expect`;
        const u = new URL(st!.proxyUrl);
        const head = [
          `POST /v2/${repo}/blobs/uploads/?digest=${sha256(data)} HTTP/1.1`,
          `Host: ${u.host}`,
          `Authorization: ${basic(BOB)}`,
          'Content-Type: application/octet-stream',
          `Content-Length: ${data.length}`,
          'Expect: 100-continue',
        ].join('\r\n');
        const ex = await rawExchange({ host: u.hostname, port: Number(u.port) }, head, data, {
          expectContinue: true,
          timeoutMs: 5_000,
        });
        assert.deepEqual(
          { statuses: ex.statuses, bodySent: ex.bodySent },
          { statuses: [403], bodySent: false },
          `the proxy's answer:\n${ex.text.slice(0, 600)}`,
        );
      }),
    );

    test(
      'a rate-limited login stays 429 with Retry-After',
      mark('a rate-limited login stays 429 with Retry-After'),
      withLogs(logs, async () => {
        // Lock carol out at the token endpoint with wrong passwords, then ask the proxy with the
        // same wrong credentials: it must pass the 429 on (a 401 makes docker retry forever).
        const wrong = basic({ username: CAROL.username, password: 'not-her-password' });
        const tokenUrl = `${st!.purser.url}/token?service=${SERVICE}&scope=repository:carol/app:pull`;
        let last = await wire({ method: 'GET', url: tokenUrl, headers: { authorization: wrong } });
        for (let i = 0; i < MAX_FAILED_LOGINS && last.status !== 429; i++)
          last = await wire({ method: 'GET', url: tokenUrl, headers: { authorization: wrong } });
        assert.equal(last.status, 429, 'the token endpoint never rate-limited the login');
        assert.match(last.headers['retry-after'] ?? '', /^\d+$/);
        const viaProxy = await wire({
          method: 'GET',
          url: `${st!.proxyUrl}/v2/carol/app/manifests/v1`,
          headers: { authorization: wrong },
        });
        assert.deepEqual(
          { status: viaProxy.status, retryAfter: /^\d+$/.test(viaProxy.headers['retry-after'] ?? '') },
          { status: 429, retryAfter: true },
          `the proxy's answer: ${viaProxy.status} ${JSON.stringify(viaProxy.headers)} ${viaProxy.body.toString()}`,
        );
      }),
    );
  });
}
