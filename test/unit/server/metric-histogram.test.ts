// Purser's histograms count in plain arrays and are read when the registry collects: what a
// scrape shows, and what a primary sums over its workers' JSON, must be exactly what
// prom-client's own Histogram gives for the same observations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import client, { AggregatorRegistry } from 'prom-client';
import { MetricHistogram } from '../../../src/server/metric-histogram.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.1, 1];
/** As a worker sends it to its primary: JSON. */
const json = async (r: client.Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON())) as unknown;

function pair(labelNames: string[] = []) {
  const ours = new client.Registry();
  const theirs = new client.Registry();
  const h = new MetricHistogram(ours, 'x_seconds', 'Help.', BUCKETS, labelNames);
  const p = new client.Histogram({
    name: 'x_seconds',
    help: 'Help.',
    buckets: BUCKETS,
    labelNames,
    registers: [theirs],
  });
  return { ours, theirs, h, p };
}

describe('MetricHistogram', () => {
  test("exposition and JSON are prom-client's, without labels", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.constantFrom(...BUCKETS, 0, 5)), {
          maxLength: 60,
        }),
        async (values) => {
          const { ours, theirs, h, p } = pair();
          for (const v of values) {
            h.observe(v);
            p.observe(v);
          }
          assert.equal(await ours.metrics(), await theirs.metrics());
          assert.deepEqual(await json(ours), await json(theirs));
        },
      ),
      { numRuns: 200 },
    );
  });

  test("label sets: exposition and JSON are prom-client's", async () => {
    const { ours, theirs, h, p } = pair(['hook']);
    assert.equal(await ours.metrics(), await theirs.metrics(), 'no series before the first observation');
    for (const [v, hook] of [
      [0.002, 'a'],
      [0.5, 'b'],
      [3, 'a'],
      [0.001, 'b'],
    ] as const) {
      h.observe(v, { hook });
      p.observe({ hook }, v);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await json(ours), await json(theirs));
    assert.throws(() => h.observe(1, { nope: 'x' }), /unknown label nope/);
    assert.throws(() => h.observe(Number.NaN, { hook: 'a' }), /not finite/);
  });

  test("a primary's sum over workers is prom-client's", async () => {
    const workers = [pair(['hook']), pair(['hook'])];
    workers[0]!.h.observe(0.003, { hook: 'a' });
    workers[0]!.p.observe({ hook: 'a' }, 0.003);
    workers[1]!.h.observe(0.2, { hook: 'a' });
    workers[1]!.p.observe({ hook: 'a' }, 0.2);
    const ours = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.ours.getMetricsAsJSON())),
    );
    const theirs = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.theirs.getMetricsAsJSON())),
    );
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  test('reset empties every series', async () => {
    const { ours, theirs, h, p } = pair();
    h.observe(0.5);
    p.observe(0.5);
    ours.resetMetrics();
    theirs.resetMetrics();
    // prom-client drops the series of an unlabelled histogram on reset; ours keeps it at zero.
    assert.match(await ours.metrics(), /x_seconds_count 0/);
    assert.doesNotMatch(await ours.metrics(), /x_seconds_count 1/);
  });
});
