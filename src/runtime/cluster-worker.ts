import { decodeConfig } from '../config/transfer.js';
import { Metrics } from '../server/metrics.js';
import { ipcStores } from '../state/ipc-stores.js';
import { IpcChannel, type IpcEndpoint } from '../util/ipc-channel.js';
import { createLogger } from '../util/log.js';
import { ServerProcess } from './server-process.js';
import { WORKER_SLOT_ENV, type WorkerReload, type WorkerSettings } from './worker-protocol.js';

/** The worker's /metrics waits this long for its primary's sum. */
const METRICS_TIMEOUT_MS = 5_000;

/**
 * One worker of `serve --workers N` (see cluster-primary.ts): serves both listeners on the
 * sockets its primary shares, with the stores the primary holds (or Redis), reloads when
 * the primary says so, and drains when told to stop (or when the primary is gone). SIGINT is
 * left to the primary (a terminal sends it to every process of the group); a SIGTERM sent to
 * the worker alone drains it, and the primary starts another. Resolves with the exit code.
 */
export async function runWorker(): Promise<number> {
  const endpoint: IpcEndpoint = {
    send: (m) => process.send?.(m) ?? false,
    on: (e, l) => process.on(e, l),
    off: (e, l) => process.off(e, l),
  };
  const channel = new IpcChannel(endpoint);
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? 0);
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  // Set before anything is awaited. Reloads come from the primary; a hang-up of the whole
  // process group must not kill workers.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.once('SIGTERM', () => stop());
  process.once('disconnect', () => stop());
  // The primary's config, not the file's: the worker loads neither the YAML parser nor the
  // schema, and applies exactly what was validated.
  const settings = await channel.request<WorkerSettings>('settings', null, 30_000);
  const config = decodeConfig(settings.config);
  const { shutdownTimeoutMs } = settings;
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const metrics = new Metrics();
  metrics.aggregateWith(() => channel.request<string>('metrics', null, METRICS_TIMEOUT_MS));
  const p = await ServerProcess.start(config, logger, metrics, {
    ...(config.redis ? {} : { stores: ipcStores(channel) }),
    slot,
  });
  channel.handle('metrics-json', () => metrics.registry.getMetricsAsJSON());
  channel.handle('reload', (body) => {
    const r = body as WorkerReload;
    return p.reloadWith(decodeConfig(r.config), { count: false, trigger: r.trigger });
  });
  channel.handle('tls', (trigger) => {
    p.reloadTls(typeof trigger === 'string' ? trigger : 'reload');
    return null;
  });
  channel.handle('shutdown', () => {
    stop();
    return null;
  });
  await channel.request('ready', p.listening, 30_000);
  await stopped;
  await p.drain(shutdownTimeoutMs);
  channel.close();
  return 0;
}
