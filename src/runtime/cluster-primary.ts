import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { compileConfig } from '../compile/compile-config.js';
import type { Config } from '../config/load.js';
import { encodeConfig } from '../config/transfer.js';
import { ConfigError } from '../core/errors.js';
import type { Metrics } from '../server/metrics.js';
import { serveStores } from '../state/ipc-stores.js';
import { withMemoryStores } from '../state/stores.js';
import { ThrottleSlots } from '../state/throttle-slots.js';
import { IpcChannel } from '../util/ipc-channel.js';
import type { Logger } from '../util/log.js';
import { reclaimMemory } from '../util/reclaim-memory.js';
import { blameOverlay, loadLayeredConfig, overlayAtFault } from './config-overlays.js';
import { FileWatch, referencedFiles } from './file-watch.js';
import type { OverlayFeed } from './overlay-feed.js';
import { ReloadQueue } from './reload-queue.js';
import type { ListeningFields, ReloadResult } from './server-process.js';
import { restartNeeded } from './server-process.js';
import { WORKER_SLOT_ENV, type WorkerReload, type WorkerSettings } from './worker-protocol.js';

export interface PrimaryOptions {
  file: string;
  /** Loaded and compiled already: a bad file failed before any worker started. */
  config: Readonly<Config>;
  workers: number;
  shutdownTimeoutMs: number;
  logger: Logger;
  /** The primary's own series (serve made them before it knew it would fork). */
  metrics: Metrics;
  /**
   * kubernetes.configSecrets: merged over the file at every reload (a change to them reloads
   * too), so the workers get the merged result; closed at shutdown.
   */
  overlays?: OverlayFeed | undefined;
}

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

interface Slot {
  index: number;
  worker: Worker | undefined;
  channel: IpcChannel | undefined;
  ready: boolean;
  startedAt: number;
  /** Deaths in a row, each soon after its start: the restart backoff grows with them. */
  quickDeaths: number;
}

/** A worker that lived this long is healthy: its next death restarts it at once. */
const HEALTHY_MS = 10_000;
const MAX_BACKOFF_MS = 10_000;
const START_TIMEOUT_MS = 60_000;
/** A worker's answer to a reload: building a state may read many files. */
const RELOAD_TIMEOUT_MS = 60_000;
const METRICS_TIMEOUT_MS = 2_000;

/**
 * The primary of `serve --workers N` (node:cluster): forks N workers that each serve both
 * listeners (the primary holds the listening sockets and hands connections round-robin);
 * holds the memory stores they share (failed logins, revocations, replay) unless `redis:` is
 * set; sums their metrics for /metrics; restarts a worker that dies (with backoff);
 * coordinates reloads (SIGHUP, file changes, changed config Secrets: merged and validated
 * here once, then applied by every worker) and the graceful shutdown (SIGTERM/SIGINT: every
 * worker drains, then the primary exits). Resolves with the exit code.
 */
export async function runPrimary(o: PrimaryOptions): Promise<number> {
  const { logger, file } = o;
  let current = o.config;
  // The file's parser garbage (serve read and compiled it here), before the workers start.
  reclaimMemory();
  const { metrics } = o;
  const restarts = metrics.counter('purser_worker_restarts_total', 'Workers restarted after they died.');
  const stores = withMemoryStores();
  const slots = new ThrottleSlots(stores.throttle);
  const shared = current.redis ? undefined : stores;
  const table: Slot[] = Array.from({ length: o.workers }, (_, index) => ({
    index,
    worker: undefined,
    channel: undefined,
    ready: false,
    startedAt: 0,
    quickDeaths: 0,
  }));
  metrics.gauge('purser_workers', 'Workers serving now.', () => table.filter((s) => s.ready).length, 'first');
  let stopping = false;
  let started = false;
  let fatal: ((reason: string) => void) | undefined;
  // A worker that refused the configuration (exit 2: a refusal outside compileConfig) makes
  // serve exit 2 too; any other start-up death exits 1.
  let startExitCode = 1;
  const startFailed = new Promise<string>((resolve) => {
    fatal = resolve;
  });
  let firstListening: ListeningFields[] | undefined;
  let readyCount = 0;
  let allReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    allReady = resolve;
  });
  let onAllExited: () => void = () => {};

  const aggregate = async (): Promise<string> => {
    const parts = await Promise.all(
      table.map((s) =>
        s.ready && s.channel
          ? s.channel.request<MetricsJson>('metrics-json', null, METRICS_TIMEOUT_MS).catch(() => undefined)
          : undefined,
      ),
    );
    const own = await metrics.registry.getMetricsAsJSON();
    const all = [own, ...parts.filter((p): p is MetricsJson => p !== undefined)];
    return AggregatorRegistry.aggregate(all).metrics();
  };

  const fork = (slot: Slot): void => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
    const channel = new IpcChannel(worker);
    slot.worker = worker;
    slot.channel = channel;
    slot.ready = false;
    slot.startedAt = Date.now();
    if (shared) serveStores(channel, worker.id, shared, slots);
    channel.handle(
      'settings',
      (): WorkerSettings => ({ config: encodeConfig(current), shutdownTimeoutMs: o.shutdownTimeoutMs }),
    );
    channel.handle('metrics', () => aggregate());
    channel.handle('ready', (body) => {
      slot.ready = true;
      if (!firstListening) firstListening = body as ListeningFields[];
      if (!started && ++readyCount === o.workers) allReady();
      return null;
    });
    worker.on('exit', (code, signal) => {
      channel.close();
      slots.releaseAll(worker.id);
      slot.ready = false;
      slot.worker = undefined;
      slot.channel = undefined;
      if (stopping) {
        if (table.every((s) => s.worker === undefined)) onAllExited();
        return;
      }
      if (!started) {
        if (code === 2) startExitCode = 2;
        return fatal?.(`worker ${slot.index} exited during start-up (${signal ?? `code ${code}`})`);
      }
      const lived = Date.now() - slot.startedAt;
      slot.quickDeaths = lived < HEALTHY_MS ? slot.quickDeaths + 1 : 0;
      const delay = slot.quickDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** slot.quickDeaths);
      logger.error('worker exited unexpectedly; restarting it', {
        worker: slot.index,
        pid: worker.process.pid,
        code,
        signal,
        livedMs: lived,
        restartInMs: delay,
      });
      restarts.inc();
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay).unref();
    });
  };

  // From the start: a SIGTERM while the workers start stops them once they are up.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  for (const slot of table) fork(slot);
  let startTimer: NodeJS.Timeout | undefined;
  const failure = await Promise.race([
    ready.then(() => undefined),
    startFailed,
    new Promise<string>((resolve) => {
      startTimer = setTimeout(() => resolve('the workers did not start in time'), START_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(startTimer);
  if (failure !== undefined) {
    stopping = true;
    for (const s of table) s.worker?.process.kill('SIGKILL');
    await o.overlays?.close();
    logger.error('serve did not start', { reason: failure });
    return startExitCode;
  }
  started = true;
  for (const fields of firstListening ?? []) logger.info('listening', { ...fields, workers: o.workers });

  const reloadOnce = async (trigger: string): Promise<void> => {
    const overlays = o.overlays?.list ?? [];
    let next: Readonly<Config>;
    try {
      next = loadLayeredConfig(file, overlays);
      // Refused here once, not by every worker.
      await compileConfig(next, { logger });
    } catch (caught) {
      // The workers keep their config, but re-read its certificate files: a renewal is
      // applied even while the config file has a typo (as in a single process).
      await Promise.all(
        table
          .filter((s) => s.ready && s.channel)
          .map((s) => s.channel!.request('tls', trigger, RELOAD_TIMEOUT_MS).catch(() => {})),
      );
      const e = await blameOverlay(caught, file, overlays);
      const secret = overlayAtFault(e, overlays);
      if (secret) metrics.configSourceErrors.inc({ source: secret.kind });
      return void reloadFailed(
        trigger,
        (e as Error).message,
        e instanceof ConfigError ? e.path || undefined : undefined,
        secret?.name,
      );
    }
    for (const [msg, fields] of restartNeeded(current, next)) logger.warn(msg, fields);
    const live = table.filter((s) => s.ready && s.channel);
    // Every worker gets the config validated here, not the file (which may change meanwhile).
    const reload: WorkerReload = { config: encodeConfig(next), trigger };
    const results = await Promise.all(
      live.map((s) =>
        s
          .channel!.request<ReloadResult>('reload', reload, RELOAD_TIMEOUT_MS)
          .catch((e: Error): ReloadResult => ({ ok: false, error: e.message, key: undefined })),
      ),
    );
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) return void reloadFailed(trigger, failed.error, failed.key);
    current = next;
    reclaimMemory();
    watch.set(referencedFiles(next));
    metrics.reloads.inc({ outcome: 'ok' });
    const first = results[0];
    logger.info('configuration reloaded', {
      file,
      trigger,
      generation: first?.ok ? first.generation : undefined,
      workers: live.length,
    });
  };
  const reloadFailed = (trigger: string, error: string, key: string | undefined, secret?: string) => {
    metrics.reloads.inc({ outcome: 'error' });
    logger.error('configuration reload failed; keeping the previous configuration', {
      trigger,
      ...(secret ? { secret } : {}),
      key,
      error,
    });
  };
  const queue = new ReloadQueue(reloadOnce);
  const watch = new FileWatch(() => queue.trigger('file change'), {
    onError: (dir, err) =>
      logger.warn('cannot watch for changes; SIGHUP still reloads', { dir, error: err.message }),
  });
  watch.set(referencedFiles(current));
  o.overlays?.onChange(() => queue.trigger('Secret change'));
  const onHup = () => queue.trigger('SIGHUP');
  process.on('SIGHUP', onHup);

  const signal = await stopSignal;
  logger.info('shutting down', { signal, workers: table.filter((s) => s.worker).length });
  stopping = true;
  watch.close();
  process.off('SIGHUP', onHup);
  await o.overlays?.close();
  await queue.stop();
  const allExited = new Promise<void>((resolve) => {
    onAllExited = resolve;
    if (table.every((s) => s.worker === undefined)) resolve();
  });
  for (const s of table) s.channel?.request('shutdown', null).catch(() => {});
  // A worker past its own deadline (stuck) is killed: the primary must exit.
  const kill = setTimeout(() => {
    for (const s of table) s.worker?.process.kill('SIGKILL');
  }, o.shutdownTimeoutMs + 5_000);
  await allExited;
  clearTimeout(kill);
  return 0;
}
