/**
 * Prometheus text exposition for the handful of series Purser keeps. Label sets are small
 * and fixed (grant, outcome), so series cannot grow without bound.
 */
type Labels = Record<string, string>;

const key = (l: Labels) =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}="${l[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, v] of this.values) out += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    return out;
  }
}

class Histogram {
  readonly buckets: number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    buckets: number[],
  ) {
    this.buckets = buckets;
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) this.counts[i]!++;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    this.buckets.forEach((b, i) => {
      out += `${this.name}_bucket{le="${b}"} ${this.counts[i]}\n`;
    });
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

export class Metrics {
  readonly tokenRequests = new Counter('purser_token_requests_total', 'Token requests by grant and outcome.');
  readonly failedLogins = new Counter('purser_failed_logins_total', 'Failed authentications by reason kind.');
  readonly tokenDuration = new Histogram(
    'purser_token_request_duration_seconds',
    'Time to answer a token request.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  readonly oidcFetches = new Counter(
    'purser_oidc_fetches_total',
    'Discovery and JWKS fetches by provider, kind and outcome.',
  );
  readonly proxyRequests = new Counter(
    'purser_proxy_requests_total',
    'Proxied registry requests by method and status class.',
  );
  readonly reloads = new Counter('purser_config_reloads_total', 'Configuration reloads by outcome.');
  readonly connectionsClosed = new Counter(
    'purser_connections_closed_total',
    'Client connections closed by a limit, by listener and reason (max_connections, body_idle).',
  );
  readonly #extra: (() => string)[] = [];

  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.#extra.push(() => c.render());
    return c;
  }

  /** A gauge read when /metrics is rendered. */
  gauge(name: string, help: string, read: () => number): void {
    this.#extra.push(() => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${read()}\n`);
  }

  render(): string {
    const mem = process.memoryUsage();
    return [
      this.tokenRequests.render(),
      this.failedLogins.render(),
      this.tokenDuration.render(),
      this.reloads.render(),
      this.oidcFetches.render(),
      this.proxyRequests.render(),
      this.connectionsClosed.render(),
      ...this.#extra.map((f) => f()),
      `# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${mem.rss}\n`,
    ].join('');
  }
}
