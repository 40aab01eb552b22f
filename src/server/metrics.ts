import client from 'prom-client';
import { passwordQueue } from '../authn/password-checks.js';
import { MetricHistogram } from './metric-histogram.js';

/**
 * Purser's metrics on prom-client: the library's default runtime metrics (CPU, memory,
 * event-loop lag, GC, handles) and Purser's own `purser_*` series, in a registry owned by
 * this instance (a process may hold several Purser instances). Label values come from small
 * fixed sets or from the configuration (provider names), never from requests (no account
 * names, no repository names), so the series cannot grow without bound.
 */
type Labels = Record<string, string>;

/** Counts of one label set, waiting for the next collection. */
interface Pending {
  labels: Labels;
  by: number;
}

/**
 * A counter over a fixed set of label names. Increments gather here, by label values, and
 * reach prom-client when it collects (a scrape, a worker's metrics for its primary): a token
 * request increments four or five counters, and prom-client hashes and validates the labels
 * of each call (about a microsecond apiece), where this is a walk of nested Maps, one level
 * per label name. Keyed by the values themselves, not a string built from them: those are
 * literals or the configuration's own strings, whose hashes V8 keeps, where a key made per
 * call is hashed anew each time. The entries are bounded as the series are: label values
 * come from small fixed sets and the configuration.
 */
class Counter {
  readonly #names: readonly string[];
  readonly #known: ReadonlySet<string>;
  /** Depth = the number of label names; the leaves are the label sets counted since collection. */
  readonly #tree = new Map<string, unknown>();
  readonly #pending: Pending[] = [];
  constructor(registry: client.Registry, name: string, help: string, labelNames: readonly string[]) {
    this.#names = labelNames;
    this.#known = new Set(labelNames);
    const pending = this.#pending;
    new client.Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        // Each label set once: its count since the last collection, zeroed (the tree stays).
        for (const p of pending) {
          if (p.by > 0) this.inc(p.labels, p.by);
          p.by = 0;
        }
      },
    });
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0) || by === Number.POSITIVE_INFINITY) throw new TypeError(`counter increment ${by}`);
    const names = this.#names;
    let node: Map<string, unknown> = this.#tree;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      const v = labels[names[i]!] ?? '\u0001';
      let next = node.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) {
        this.#check(labels);
        next = new Map();
        node.set(v, next);
      }
      node = next;
    }
    const v = last >= 0 ? (labels[names[last]!] ?? '\u0001') : '';
    const e = node.get(v) as Pending | undefined;
    if (e) {
      e.by += by;
      return;
    }
    // A new label set: checked here, where a wrong name is a bug at its call site.
    this.#check(labels);
    const p: Pending = { labels: { ...labels }, by };
    node.set(v, p);
    this.#pending.push(p);
  }
  #check(labels: Labels): void {
    for (const k of Object.keys(labels))
      if (!this.#known.has(k)) throw new TypeError(`unknown label ${k} (labels: ${this.#names.join(', ')})`);
  }
}

// Scope types and actions come from requests: only known ones become label values.
const KNOWN_TYPES = new Set(['repository', 'registry']);
const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);
const LATENCY = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const UPSTREAM = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new client.Registry();
  readonly #r = this.registry;
  readonly tokenRequests = new Counter(
    this.#r,
    'purser_token_requests_total',
    'Token requests by grant and outcome.',
    ['grant', 'outcome'],
  );
  readonly tokenRequestsByProvider = new Counter(
    this.#r,
    'purser_token_requests_by_provider_total',
    'Token requests by grant, outcome and the provider that authenticated them (static, anonymous, a configured provider name, or none when authentication failed).',
    ['grant', 'outcome', 'provider'],
  );
  readonly failedLogins = new Counter(
    this.#r,
    'purser_failed_logins_total',
    'Failed authentications by reason kind.',
    ['kind'],
  );
  readonly tokenDuration = new MetricHistogram(
    this.#r,
    'purser_token_request_duration_seconds',
    'Time to answer a token request.',
    LATENCY,
  );
  readonly grantedActions = new Counter(
    this.#r,
    'purser_granted_actions_total',
    'Actions granted in issued tokens, by resource type and action.',
    ['type', 'action'],
  );
  readonly oidcFetches = new Counter(
    this.#r,
    'purser_oidc_fetches_total',
    'Discovery and JWKS fetches by provider, kind and outcome.',
    ['provider', 'kind', 'outcome'],
  );
  readonly loginCache = new Counter(
    this.#r,
    'purser_login_cache_total',
    'Static-user logins by login-cache result (hit; refresh: a hit near expiry, which renews its entry; miss).',
    ['result'],
  );
  readonly proxyRequests = new Counter(
    this.#r,
    'purser_proxy_requests_total',
    'Proxied registry requests by method and status class.',
    ['method', 'status'],
  );
  readonly proxyBytes = new Counter(
    this.#r,
    'purser_proxy_bytes_total',
    'Body bytes the proxy relayed, by direction (upload: client to registry, download: registry to client).',
    ['direction'],
  );
  readonly proxyUpstreamDuration = new MetricHistogram(
    this.#r,
    'purser_proxy_upstream_duration_seconds',
    'Time from sending a request upstream to its response head.',
    UPSTREAM,
  );
  readonly reloads = new Counter(
    this.#r,
    'purser_config_reloads_total',
    'Configuration reloads by outcome.',
    ['outcome'],
  );
  readonly configSourceErrors = new Counter(
    this.#r,
    'purser_config_source_errors_total',
    'Configuration sources (source="secret": a Kubernetes Secret) refused as invalid; the last good configuration keeps serving.',
    ['source'],
  );
  readonly configSourceWatchRestarts = new Counter(
    this.#r,
    'purser_config_source_watch_restarts_total',
    'Watches of a configuration source (source="secret") restarted after an error.',
    ['source'],
  );
  readonly connectionsClosed = new Counter(
    this.#r,
    'purser_connections_closed_total',
    'Client connections closed by a limit, by listener and reason (max_connections, body_idle).',
    ['listener', 'reason'],
  );
  readonly webhookCalls = new Counter(
    this.#r,
    'purser_webhook_calls_total',
    'Webhook lookups by hook (authn, authz) and outcome (ok, error, hit: answered from the cache).',
    ['hook', 'outcome'],
  );
  readonly webhookDuration = new MetricHistogram(
    this.#r,
    'purser_webhook_duration_seconds',
    'Time a webhook lookup took, cache hits included, by hook.',
    UPSTREAM,
    ['hook'],
  );
  readonly auditDropped = new Counter(
    this.#r,
    'purser_audit_dropped_total',
    'Audit events dropped because the sink could not keep up.',
    [],
  );

  readonly redisErrors = new Counter(
    this.#r,
    'purser_redis_errors_total',
    'Calls to the Redis stores that failed (Redis down, unreachable, slow, or an index full), by store; counted whatever redis.onError then did.',
    ['store'],
  );
  /** Requests this process answered on either listener, by worker slot (0 without workers). */
  readonly workerRequests = new Counter(
    this.#r,
    'purser_worker_requests_total',
    'HTTP requests answered, by worker (its slot 0..N-1, stable across restarts of a worker); shows how the workers share the load.',
    ['worker'],
  );
  /** Renders the whole /metrics text instead of this registry (the workers' primary sums them). */
  #aggregate: (() => Promise<string>) | undefined;

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
    this.gauge(
      'purser_bcrypt_queue_waiting',
      'Password checks waiting for a bcrypt slot (process-wide).',
      () => passwordQueue().waiting,
    );
    this.gauge(
      'purser_bcrypt_queue_active',
      'Password checks running on bcrypt slots (process-wide).',
      () => passwordQueue().active,
    );
  }

  /** Counts one granted action; types and actions outside the known sets count as `other`. */
  grantedAction(type: string, action: string): void {
    this.grantedActions.inc({
      type: KNOWN_TYPES.has(type) ? type : 'other',
      action: KNOWN_ACTIONS.has(action) ? action : 'other',
    });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return new Counter(this.#r, name, help, labelNames);
  }

  /**
   * A gauge read when /metrics is rendered. `aggregator` says how the workers' values
   * combine (default their sum).
   */
  gauge(name: string, help: string, read: () => number, aggregator?: client.Aggregator): void {
    // A component rebuilt on the same instance (a proxy after a restart) reads its own state.
    this.registry.removeSingleMetric(name);
    new client.Gauge({
      name,
      help,
      registers: [this.#r],
      ...(aggregator ? { aggregator } : {}),
      collect() {
        this.set(read());
      },
    });
  }

  /** A gauge with one label, its values read when /metrics is rendered (bounded by the caller). */
  labelledGauge(
    name: string,
    help: string,
    label: string,
    read: () => Iterable<[string, number]>,
    aggregator?: client.Aggregator,
  ): void {
    this.registry.removeSingleMetric(name);
    new client.Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.#r],
      ...(aggregator ? { aggregator } : {}),
      collect() {
        this.reset();
        for (const [v, n] of read()) this.set({ [label]: v }, n);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** From now on /metrics answers what `aggregate` renders (every worker's sum). */
  aggregateWith(aggregate: () => Promise<string>): void {
    this.#aggregate = aggregate;
  }

  render(): Promise<string> {
    return this.#aggregate ? this.#aggregate() : this.registry.metrics();
  }
}
