import { type AuditLog, openAuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import { drainServer } from '../http/drain.js';
import type { RegistryProxy } from '../proxy/server.js';
import { buildApp } from '../server/app.js';
import { TokenHttpServer } from '../server/http.js';
import type { Metrics } from '../server/metrics.js';
import type { RedisStores } from '../state/redis-stores.js';
import type { Stores } from '../state/stores.js';
import type { Logger } from '../util/log.js';
import { reclaimMemory } from '../util/reclaim-memory.js';
import type { ConfigOverlay } from './config-overlays.js';
import { closeState, Runtime } from './runtime.js';
import { TlsReloader } from './tls-reload.js';

/** What a reload came to, for the one log line (the process's own, or its primary's). */
export type ReloadResult =
  | { ok: true; generation: number }
  | { ok: false; error: string; key: string | undefined; secret?: { kind: string; name: string } };

export interface ReloadOptions {
  /** Secrets merged over the file (kubernetes.configSecrets). */
  overlays?: readonly ConfigOverlay[];
  /** What asked for it, for the TLS reloaders' log lines. */
  trigger?: string;
  /** Count it in purser_config_reloads_total (the process alone; a primary counts once). */
  count?: boolean;
}

/** The fields of a "listening" log line. */
export type ListeningFields = Record<string, unknown> & { server: 'token' | 'proxy'; url: string };

export interface ServerProcessOptions {
  /** Stores shared with other workers (through the primary); default memory or `redis:`. */
  stores?: Partial<Stores>;
  /** This process's worker slot (a metric label); 0 when it is the only process. */
  slot?: number;
}

/**
 * One serving process: the token server and, with `proxy:`, the proxy, on one Runtime. Run
 * alone by `serve` with one worker, or as each worker of the cluster (runtime/cluster-*.ts).
 */
export class ServerProcess {
  readonly runtime: Runtime;
  readonly token: TokenHttpServer;
  proxy: RegistryProxy | undefined;
  readonly listening: ListeningFields[] = [];
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #redis: RedisStores | undefined;
  readonly #audit: AuditLog | undefined;
  #reloading: Promise<ReloadResult> | undefined;
  /** setSecureContext on each TLS listener, from the certificate files of the config in force. */
  readonly #tls: { token?: TlsReloader; proxy?: TlsReloader } = {};
  #drained: Promise<void> | undefined;

  private constructor(
    runtime: Runtime,
    token: TokenHttpServer,
    logger: Logger,
    metrics: Metrics,
    redis: RedisStores | undefined,
    audit: AuditLog | undefined,
  ) {
    this.runtime = runtime;
    this.token = token;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#redis = redis;
    this.#audit = audit;
  }

  static async start(
    config: Readonly<Config>,
    logger: Logger,
    metrics: Metrics,
    options: ServerProcessOptions = {},
  ): Promise<ServerProcess> {
    // Shared stores are built once: reloads keep them (a changed redis: takes a restart).
    // Loaded only with redis: configured: ioredis alone is about 11 MiB of each process's RSS.
    const redisModule = config.redis ? await import('../state/redis-stores.js') : undefined;
    const redis = config.redis
      ? redisModule!.redisStores(config.redis, config.baseDir, logger, {
          onError: (store) => metrics.redisErrors.inc({ store }),
        })
      : undefined;
    if (redis && !(await redisModule!.redisReady(redis.client, 3_000)))
      logger.warn('redis not reachable yet; serving with its outage policy meanwhile', {
        rateLimits: config.redis!.onError.rateLimits,
        revocation: config.redis!.onError.revocation,
      });
    const stores = redis ? redis.stores : options.stores;
    const state = await buildApp(config, logger, metrics, stores ? { stores } : {});
    const audit = openAuditLog(config.audit, { onDrop: () => metrics.auditDropped.inc() });
    let runtime: Runtime | undefined;
    const token = new TokenHttpServer(state, logger, metrics, { enter: () => runtime!.enter(), audit });
    runtime = new Runtime(state, (next) => token.setState(next));
    const p = new ServerProcess(runtime, token, logger, metrics, redis, audit);
    const counted = { worker: String(options.slot ?? 0) };
    const count = () => metrics.workerRequests.inc(counted);
    const url = await token.listen(config.listen, config.tls);
    token.server!.on('request', count);
    if (config.tls) {
      p.#tls.token = new TlsReloader('token', token.server!, logger);
      p.#tls.token.reload(config.tls, 'start');
    }
    p.listening.push({
      server: 'token',
      url: url.origin,
      issuer: config.token.issuer,
      services: config.token.services,
      keyId: config.token.keyId,
      kid: state.keyring.kidOf(state.keyring.keys[0]!),
    });
    if (config.proxy) {
      // Loaded only here: the proxy and undici are most of a process that runs none.
      const { RegistryProxy } = await import('../proxy/server.js');
      const proxy = new RegistryProxy(config.proxy, token, runtime, logger, metrics);
      p.proxy = proxy;
      const purl = await proxy.listen();
      proxy.server!.on('request', count);
      proxy.server!.on('checkContinue', count);
      if (config.proxy.tls) {
        p.#tls.proxy = new TlsReloader('proxy', proxy.server!, logger);
        p.#tls.proxy.reload(config.proxy.tls, 'start');
      }
      p.listening.push({
        server: 'proxy',
        url: purl.origin,
        upstream: config.proxy.upstream,
        externalUrl: proxy.externalUrl,
        upstreamAuth:
          typeof config.proxy.upstreamAuth === 'string'
            ? config.proxy.upstreamAuth
            : config.proxy.upstreamAuth.kind,
      });
    }
    p.#reclaim('start');
    return p;
  }

  /** A large configuration's parser garbage, given back once it is built (util/reclaim-memory.ts). */
  #reclaim(after: string): void {
    const freed = reclaimMemory();
    if (freed > 0) this.#logger.debug('memory reclaimed', { after, freedMiB: Math.round(freed / 1048576) });
  }

  /**
   * Reads `file` again (with `overlays` merged over it) and swaps in the state built from it;
   * an invalid one keeps the current state. The TLS listeners then re-read their certificate
   * files, from whichever config is in force.
   */
  reload(file: string, options: ReloadOptions = {}): Promise<ReloadResult> {
    return this.#queue(async () => {
      // Loaded here, not at start-up: a worker is handed its config and never reads a file.
      const { blameOverlay, loadLayeredConfig, overlayAtFault } = await import('./config-overlays.js');
      const overlays = options.overlays ?? [];
      return this.#reloadOnce(
        () => loadLayeredConfig(file, overlays),
        async (caught) => {
          const e = await blameOverlay(caught, file, overlays);
          const secret = overlayAtFault(e, overlays);
          return { e, ...(secret ? { secret: { kind: secret.kind, name: secret.name } } : {}) };
        },
        options,
      );
    });
  }

  /**
   * Swaps in the state built from `config`, validated already (a worker's, by its primary);
   * the same as reload() otherwise.
   */
  reloadWith(config: Readonly<Config>, options: ReloadOptions = {}): Promise<ReloadResult> {
    return this.#queue(() =>
      this.#reloadOnce(
        () => config,
        async (e) => ({ e }),
        options,
      ),
    );
  }

  /** One reload at a time: one asked for during another runs after it. */
  #queue(run: () => Promise<ReloadResult>): Promise<ReloadResult> {
    const next = (this.#reloading ?? Promise.resolve()).then(run);
    this.#reloading = next;
    return next;
  }

  async #reloadOnce(
    load: () => Readonly<Config>,
    blame: (caught: unknown) => Promise<{ e: unknown; secret?: { kind: string; name: string } }>,
    options: ReloadOptions,
  ): Promise<ReloadResult> {
    const rt = this.runtime;
    const count = options.count ?? true;
    try {
      const next = load();
      // Built whole before the swap: an invalid config never replaces a working one.
      const built = await buildApp(next, this.#logger, this.#metrics, { previous: rt.state });
      if (rt.closed) {
        await closeState(built);
        return { ok: false, error: 'shutting down', key: undefined };
      }
      rt.swap(built);
      if (count) this.#metrics.reloads.inc({ outcome: 'ok' });
      return { ok: true, generation: rt.generation };
    } catch (caught) {
      const { e, secret } = await blame(caught);
      if (count) this.#metrics.reloads.inc({ outcome: 'error' });
      return {
        ok: false,
        error: (e as Error).message,
        key: e instanceof ConfigError ? e.path || undefined : undefined,
        ...(secret ? { secret } : {}),
      };
    } finally {
      // Certificates follow the configuration in force (the previous one when the new one
      // was refused): a renewal is applied even while the config file has a typo.
      if (!rt.closed) this.reloadTls(options.trigger ?? 'reload');
      this.#reclaim('reload');
    }
  }

  /** Re-reads the TLS listeners' certificate and key files, from the config in force. */
  reloadTls(trigger: string): void {
    const c = this.runtime.state.config;
    for (const [reloader, tls, name] of [
      [this.#tls.token, c.tls, 'tls'],
      [this.#tls.proxy, c.proxy?.tls, 'proxy.tls'],
    ] as const) {
      if (reloader && tls) reloader.reload(tls, trigger);
      else if (!reloader !== !tls) this.#logger.warn(`${name} added or removed; restart to apply it`);
    }
  }

  /**
   * Graceful stop: both listeners stop accepting, requests in flight finish (proxied streams
   * too) within `deadlineMs`, what is left then is cut; then every state and store closes.
   */
  drain(deadlineMs: number): Promise<void> {
    this.#drained ??= this.#drain(deadlineMs);
    return this.#drained;
  }

  async #drain(deadlineMs: number): Promise<void> {
    const cut = await Promise.all([
      drainServer(this.token.server, deadlineMs),
      drainServer(this.proxy?.server, deadlineMs),
    ]);
    if (cut[0] + cut[1] > 0)
      this.#logger.warn('shutdown deadline reached; connections still busy were closed', {
        token: cut[0],
        proxy: cut[1],
        deadlineMs,
      });
    await Promise.all([this.token.close(), this.proxy?.close()]);
    await this.#reloading?.catch(() => {});
    await this.runtime.close();
    await this.#redis?.close();
    await this.#audit?.close();
  }
}

/** What a reload from `current` to `next` cannot apply without a restart (one warning each). */
export function restartNeeded(
  current: Readonly<Config>,
  next: Readonly<Config>,
): [string, Record<string, unknown>?][] {
  const out: [string, Record<string, unknown>?][] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (next.listen !== current.listen)
    out.push(['listen changed; restart to apply it', { listen: next.listen }]);
  // limits.responseBatch is read at each response; the socket limits are set at listen.
  const socketLimits = (l: Config['limits']) => ({ ...l, responseBatch: undefined });
  if (!same(socketLimits(next.limits), socketLimits(current.limits)))
    out.push(['limits changed; restart to apply them']);
  // proxy.tags is read from the state of each request and proxy.tls is re-read on reload.
  const proxySettings = (p: Config['proxy']) => p && { ...p, tags: undefined, tls: 0 };
  if (!same(proxySettings(next.proxy), proxySettings(current.proxy)))
    out.push(['proxy settings changed; restart to apply them']);
  if (!same(next.kubernetes, current.kubernetes))
    out.push(['kubernetes settings changed; restart to apply them']);
  if (!same(next.redis, current.redis)) out.push(['redis settings changed; restart to apply them']);
  if (next.workers !== current.workers || next.shutdownTimeout !== current.shutdownTimeout)
    out.push(['workers or shutdownTimeout changed; restart to apply them']);
  return out;
}
