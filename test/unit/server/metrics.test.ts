// Purser's counters gather increments by label values and hand them to prom-client when it
// collects: the exposition shows every increment exactly once, whatever the number of scrapes,
// and the aggregation a primary does over its workers' JSON sees them too.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AggregatorRegistry } from 'prom-client';
import { Metrics } from '../../../src/server/metrics.js';
import { parseExposition } from '../../helpers/prom-text.js';

describe('Metrics counters', () => {
  test('increments show once per label set, across scrapes', async () => {
    const m = new Metrics();
    for (let i = 0; i < 1000; i++) m.tokenRequests.inc({ grant: 'get', outcome: 'ok' });
    m.tokenRequests.inc({ grant: 'get', outcome: 'unauthorized' }, 3);
    m.grantedAction('repository', 'pull');
    m.grantedAction('repository', 'pull');
    const first = parseExposition(await m.render());
    assert.equal(first.value('purser_token_requests_total', { grant: 'get', outcome: 'ok' }), 1000);
    assert.equal(first.value('purser_token_requests_total', { grant: 'get', outcome: 'unauthorized' }), 3);
    assert.equal(first.value('purser_granted_actions_total', { type: 'repository', action: 'pull' }), 2);
    m.tokenRequests.inc({ grant: 'get', outcome: 'ok' });
    const second = parseExposition(await m.render());
    assert.equal(second.value('purser_token_requests_total', { grant: 'get', outcome: 'ok' }), 1001);
    const third = parseExposition(await m.render());
    assert.equal(third.value('purser_token_requests_total', { grant: 'get', outcome: 'ok' }), 1001);
  });

  test("a worker's JSON, summed by the primary, carries what is pending", async () => {
    const workers = [new Metrics(), new Metrics()];
    workers[0]!.reloads.inc({ outcome: 'ok' });
    workers[1]!.reloads.inc({ outcome: 'ok' }, 2);
    const summed = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())),
    );
    const text = parseExposition(await summed.metrics());
    assert.equal(text.value('purser_config_reloads_total', { outcome: 'ok' }), 3);
  });

  test('label sets are told apart by each value, whatever the values contain', async () => {
    const m = new Metrics();
    // Two sets whose values, joined with NUL, would make the same text.
    m.tokenRequestsByProvider.inc({ grant: 'get', outcome: 'ok', provider: 'a\u0000b' });
    m.tokenRequestsByProvider.inc({ grant: 'get', outcome: 'ok\u0000a', provider: 'b' }, 2);
    m.tokenRequestsByProvider.inc({ grant: 'get', outcome: 'ok', provider: 'a\u0000b' }, 4);
    m.auditDropped.inc();
    m.auditDropped.inc();
    const text = parseExposition(await m.render());
    const by = (outcome: string, provider: string) =>
      text.value('purser_token_requests_by_provider_total', { grant: 'get', outcome, provider });
    assert.equal(by('ok', 'a\u0000b'), 5);
    assert.equal(by('ok\u0000a', 'b'), 2);
    assert.equal(text.value('purser_audit_dropped_total', {}), 2);
  });

  test('a wrong label name or a negative increment fails at the call', () => {
    const m = new Metrics();
    assert.throws(() => m.tokenRequests.inc({ grant: 'get', outcomes: 'ok' }), /unknown label outcomes/);
    assert.throws(() => m.tokenRequests.inc({ grant: 'get', outcome: 'ok' }, -1), TypeError);
    assert.throws(() => m.tokenRequests.inc({ grant: 'get', outcome: 'ok' }, Number.NaN), TypeError);
  });
});
