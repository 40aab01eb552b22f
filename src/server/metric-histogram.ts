import type client from 'prom-client';

type Labels = Record<string, string>;

/** One label set's observations: a count per bucket (the last past every bound), sum, count. */
interface Series {
  readonly labels: Labels;
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A value of prom-client's metric JSON (what `get()` gives its registry and cluster aggregator). */
interface MetricValue {
  labels: Record<string, string | number>;
  sharedLabels?: Labels;
  value: number;
  metricName: string;
  /** prom-client's buckets carry one (null without exemplars); kept for the same JSON. */
  exemplar?: null;
}

/** A metric as prom-client's registry reads it. */
interface MetricJson {
  name: string;
  help: string;
  type: string;
  values: MetricValue[];
  aggregator: string;
}

/**
 * A Prometheus histogram registered with a prom-client registry, observed without
 * prom-client's per-call work. prom-client's `observe` validates and hashes the labels and
 * counts in an object keyed by the bucket bounds as property names: about 1.5 µs, once per
 * token request (bench/README.md, seventh scale-out stop). This keeps plain arrays and is
 * read only when the registry collects. Its exposition and its JSON (for the cluster
 * aggregator, which sums histograms by metric name and labels) are prom-client's own:
 * cumulative `_bucket` series with `le` first, then `+Inf`, `_sum` and `_count`.
 *
 * Label values come from the configuration (hook names) and are bounded as the series are.
 */
export class MetricHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #labelNames: readonly string[];
  readonly #known: ReadonlySet<string>;
  /** The one series of a histogram without labels; undefined when it has label names. */
  readonly #single: Series | undefined;
  /** Label values (in label-name order, NUL-joined: values are configuration strings) → series. */
  readonly #series = new Map<string, Series>();

  constructor(
    registry: client.Registry,
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ) {
    if (labelNames.includes('le')) throw new TypeError('le is a reserved label name');
    for (let i = 1; i < buckets.length; i++)
      if (!(buckets[i]! > buckets[i - 1]!)) throw new TypeError(`${name}: buckets must increase`);
    this.name = name;
    this.help = help;
    this.#bounds = [...buckets];
    this.#labelNames = [...labelNames];
    this.#known = new Set(labelNames);
    this.#single = labelNames.length === 0 ? this.#newSeries({}) : undefined;
    if (this.#single) this.#series.set('', this.#single);
    registry.registerMetric(this as unknown as client.Metric);
  }

  observe(value: number, labels?: Labels): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: observed value ${value} is not finite`);
    const s = this.#single ?? this.#seriesOf(labels ?? {});
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  #seriesOf(labels: Labels): Series {
    let key = '';
    for (let i = 0; i < this.#labelNames.length; i++) {
      if (i > 0) key += '\0';
      key += labels[this.#labelNames[i]!] ?? '';
    }
    let s = this.#series.get(key);
    if (s === undefined) {
      for (const k of Object.keys(labels))
        if (!this.#known.has(k))
          throw new TypeError(`${this.name}: unknown label ${k} (labels: ${this.#labelNames.join(', ')})`);
      s = this.#newSeries({ ...labels });
      this.#series.set(key, s);
    }
    return s;
  }

  #newSeries(labels: Labels): Series {
    return { labels, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  /** The registry's exposition: label sets apart (`sharedLabels`), as prom-client's histogram gives them. */
  async getForPromString(): Promise<MetricJson> {
    const bucket = `${this.name}_bucket`;
    const values: MetricValue[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({
          labels: { le },
          sharedLabels: s.labels,
          value: acc,
          metricName: bucket,
          exemplar: null,
        });
      });
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: s.labels,
          value: s.count,
          metricName: bucket,
          exemplar: null,
        },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The JSON form (getMetricsAsJSON, the cluster aggregator): each value's labels in one object. */
  async get(): Promise<MetricJson> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, ...v }) => ({
      ...v,
      labels: { ...v.labels, ...sharedLabels },
    }));
    return data;
  }

  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
    if (!this.#single) this.#series.clear();
  }
}
