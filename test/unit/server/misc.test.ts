import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { splitHostPort } from '../../../src/http/listen.js';
import { clientIp } from '../../../src/server/http.js';
import { Metrics } from '../../../src/server/metrics.js';
import { parseExposition } from '../../helpers/prom-text.js';

const fakeReq = (xff: string | string[] | undefined, remote = '10.0.0.9') =>
  ({
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    socket: { remoteAddress: remote },
  }) as unknown as IncomingMessage;

describe('clientIp', () => {
  test('without trustProxy the socket address is used, X-Forwarded-For ignored', () => {
    assert.equal(clientIp(fakeReq('1.2.3.4'), false), '10.0.0.9');
  });

  test('with trustProxy and one entry, that entry is the client', () => {
    assert.equal(clientIp(fakeReq('1.2.3.4'), true), '1.2.3.4');
    assert.equal(clientIp(fakeReq(undefined), true), '10.0.0.9');
    assert.equal(clientIp(fakeReq(''), true), '10.0.0.9');
  });

  test('with trustProxy, a client-supplied X-Forwarded-For entry cannot choose the address', () => {
    assert.equal(clientIp(fakeReq('6.6.6.6, 203.0.113.7'), true), '203.0.113.7');
  });
});

describe('splitHostPort', () => {
  const cases: [string, string, number][] = [
    ['127.0.0.1:5001', '127.0.0.1', 5001],
    [':5001', '0.0.0.0', 5001],
    ['[::1]:0', '::1', 0],
    ['localhost:80', 'localhost', 80],
  ];
  for (const [input, host, port] of cases) {
    test(input, () => assert.deepEqual(splitHostPort(input), { host, port }));
  }
});

describe('Metrics', () => {
  test('counters render per label set, escaped; histogram buckets are cumulative', async () => {
    const m = new Metrics();
    m.tokenRequests.inc({ grant: 'get', outcome: 'ok' });
    m.tokenRequests.inc({ outcome: 'ok', grant: 'get' });
    m.tokenRequests.inc({ grant: 'password', outcome: 'unauthorized' });
    m.failedLogins.inc({ kind: 'a"b\\c\nd' });
    m.tokenDuration.observe(0.003);
    m.tokenDuration.observe(0.2);
    m.tokenDuration.observe(5);
    const text = await m.render();
    assert.match(text, /^purser_token_requests_total\{grant="get",outcome="ok"\} 2$/m);
    assert.match(text, /^purser_token_requests_total\{grant="password",outcome="unauthorized"\} 1$/m);
    assert.ok(text.includes('purser_failed_logins_total{kind="a\\"b\\\\c\\nd"} 1'), text);
    assert.match(text, /^purser_token_request_duration_seconds_bucket\{le="0.001"\} 0$/m);
    assert.match(text, /^purser_token_request_duration_seconds_bucket\{le="0.005"\} 1$/m);
    assert.match(text, /^purser_token_request_duration_seconds_bucket\{le="0.25"\} 2$/m);
    assert.match(text, /^purser_token_request_duration_seconds_bucket\{le="1"\} 2$/m);
    assert.match(text, /^purser_token_request_duration_seconds_bucket\{le="\+Inf"\} 3$/m);
    assert.match(text, /^purser_token_request_duration_seconds_count 3$/m);
    assert.match(text, /^purser_token_request_duration_seconds_sum 5\.203/m);
    const parsed = parseExposition(text);
    assert.equal(parsed.types.get('process_resident_memory_bytes'), 'gauge');
    assert.equal(parsed.value('purser_failed_logins_total', { kind: 'a"b\\c\nd' }), 1);
  });

  test('default runtime metrics are there, in a registry of the instance', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.reloads.inc({ outcome: 'ok' });
    const pa = parseExposition(await a.render());
    const pb = parseExposition(await b.render());
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_active_handles_total',
      'nodejs_gc_duration_seconds',
      'purser_bcrypt_queue_waiting',
    ])
      assert.ok(pa.types.has(name), name);
    assert.equal(pa.value('purser_config_reloads_total', { outcome: 'ok' }), 1);
    assert.equal(pb.value('purser_config_reloads_total', { outcome: 'ok' }), 0);
  });

  test('granted actions: types and actions outside the known sets count as other', async () => {
    const m = new Metrics();
    m.grantedAction('repository', 'pull');
    m.grantedAction('x'.repeat(300), 'frobnicate');
    const p = parseExposition(await m.render());
    assert.equal(p.value('purser_granted_actions_total', { type: 'repository', action: 'pull' }), 1);
    assert.equal(p.value('purser_granted_actions_total', { type: 'other', action: 'other' }), 1);
  });

  test('extra counters and gauges are rendered too; a gauge registered again replaces the old', async () => {
    const m = new Metrics();
    m.counter('purser_extra_total', 'Extra.').inc({}, 4);
    m.gauge('purser_g', 'G.', () => 1);
    m.gauge('purser_g', 'G.', () => 2);
    const text = await m.render();
    assert.match(text, /^purser_extra_total 4$/m);
    assert.match(text, /^purser_g 2$/m);
  });
});
