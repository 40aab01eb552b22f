import { compileConfig } from '../compile/compile-config.js';
import type { Config } from '../config/load.js';
import type { PurserError } from '../core/errors.js';
import { runPrimary } from '../runtime/cluster-primary.js';
import { blameOverlay, type ConfigOverlay } from '../runtime/config-overlays.js';
import { cpuBudget } from '../runtime/cpu-budget.js';
import { openEffectiveConfig } from '../runtime/effective-config.js';
import { FileWatch, referencedFiles } from '../runtime/file-watch.js';
import type { OverlayFeed } from '../runtime/overlay-feed.js';
import { ReloadQueue } from '../runtime/reload-queue.js';
import { restartNeeded, ServerProcess } from '../runtime/server-process.js';
import { Metrics } from '../server/metrics.js';
import { createLogger } from '../util/log.js';
import { devBanner } from './dev-banner.js';
import {
  checkRegistryBin,
  DEFAULT_REGISTRY_LISTEN,
  type DevRegistry,
  findRegistryBin,
  REGISTRY_BINS,
  splitHostPort,
  startDevRegistry,
} from './dev-registry.js';
import { DEV_USER, embeddedDefault } from './embedded.js';
import { registrySnippets } from './registry-config.js';
import { type CommandIo, flag, parse, str, UsageError, type Values } from './usage.js';

export const SERVE_HELP = `Usage: purser serve [--config FILE] [--workers N] [--shutdown-timeout SECONDS]
       purser serve [--registry-bin PATH | --no-registry]

Runs the token server (and the proxy when the config has proxy:), in N worker processes
that share the listeners and the failed-login counts, revocations and replay cache
(through the primary process, or Redis with redis:). N defaults to workers: in the
config, else the available parallelism capped by the cgroup's CPU quota (a container's
CPU limit); 1 runs a single process. The development default (no --config) runs a single
process.
Without --config, runs the embedded development default: keys and a development
user under ./.purser/, listening on 127.0.0.1:5001 (PURSER_LISTEN overrides). When a
distribution registry binary is found (docker-registry or registry on PATH, or
--registry-bin), it also runs one as its child on 127.0.0.1:5000 or the next free port
(PURSER_REGISTRY_LISTEN overrides; port 0: any free port), storage under ./.purser/,
its tokens from this Purser. The registry stops with Purser.

Reload: SIGHUP, or a change to the configuration file or a file it names (htpasswd,
signing keys, providers' keys and ca, \${file:…} files, tls certificates and keys), reloads
it; an invalid one is logged with the key at fault and the old one keeps serving. With
kubernetes.configSecrets in the file, the matching Secrets' config keys are merged over it
and a change to them reloads too (the primary watches them and hands every worker the
merged configuration); an invalid Secret is logged with its name and the key at fault.
SIGTERM/SIGINT stop accepting connections, let requests in flight finish (proxied downloads
too) for up to shutdownTimeout seconds (default 30), close what is left, and exit 0.

Options:
  --config FILE        YAML configuration file (see docs/configuration.md)
  --workers N          worker processes (overrides workers: in the file)
  --shutdown-timeout S seconds to let requests in flight finish on SIGTERM/SIGINT
  --registry-bin PATH  the registry binary for the development default
  --no-registry        development default without the child registry
`;

export async function serveCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string', short: 'c' },
    'registry-bin': { type: 'string' },
    'no-registry': { type: 'boolean' },
    workers: { type: 'string' },
    'shutdown-timeout': { type: 'string' },
  });
  if (flag(values, 'help')) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  const file = str(values, 'config');
  const registryBinFlag = str(values, 'registry-bin');
  const noRegistry = flag(values, 'no-registry');
  const workersFlag = numberFlag(values, 'workers', { integer: true, min: 1, max: 256 });
  const timeoutFlag = numberFlag(values, 'shutdown-timeout', { integer: false, min: 0, max: 3600 });
  if (file && (registryBinFlag !== undefined || noRegistry))
    throw new UsageError(
      '--registry-bin and --no-registry apply to the development default only (no --config)',
    );
  if (!file && workersFlag !== undefined)
    throw new UsageError('--workers needs --config (the development default runs one process)');
  if (registryBinFlag !== undefined && noRegistry)
    throw new UsageError('--registry-bin and --no-registry exclude each other');
  const registryListen = process.env.PURSER_REGISTRY_LISTEN || DEFAULT_REGISTRY_LISTEN;
  if (!file && !noRegistry) splitHostPort(registryListen);
  const registryBin = noRegistry
    ? undefined
    : registryBinFlag !== undefined
      ? checkRegistryBin(registryBinFlag)
      : findRegistryBin();
  let config: Readonly<Config>;
  let dev: { password: string } | undefined;
  // Secrets merged over the file (kubernetes.configSecrets): the latest complete list.
  let feed: OverlayFeed | undefined;
  const overlays = (): readonly ConfigOverlay[] => feed?.list ?? [];
  const metrics = new Metrics();
  // Until the file's log: settings are known (the Secrets are read before the rest is valid).
  let bootLogger = createLogger({});
  if (file) {
    ({ config, feed } = await openEffectiveConfig(file, {
      onWatchError: (fields) => {
        metrics.configSourceWatchRestarts.inc({ source: 'secret' });
        bootLogger.warn('watching the config Secrets failed; restarting the watch', fields);
      },
    }));
  } else {
    const d = await embeddedDefault();
    config = d.config;
    dev = d;
  }
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  bootLogger = logger;
  const shutdownTimeoutMs = (timeoutFlag ?? config.shutdownTimeout) * 1000;
  let workers = file ? (workersFlag ?? config.workers) : 1;
  if (workers === undefined) {
    const budget = cpuBudget();
    workers = budget.cpus;
    if (budget.quota !== undefined)
      logger.info('workers: as many as the CPU quota allows', { workers, cpuQuota: budget.quota });
  }
  if (file && workers > 1) {
    // Every load-time refusal here, once, before any worker starts (exit 2 naming the key).
    try {
      await compileConfig(config, { logger });
    } catch (caught) {
      await feed?.close();
      throw await blameOverlay(caught, file, overlays());
    }
    // The primary watches the Secrets too, and hands every worker the merged result.
    return runPrimary({ file, config, workers, shutdownTimeoutMs, logger, metrics, overlays: feed });
  }
  // Listening for SIGTERM/SIGINT from here: one during the start-up (the development
  // registry takes a while) stops Purser once it is up, instead of killing it outright.
  let signalled: (signal: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    signalled = resolve;
  });
  const onTerm = () => signalled('SIGTERM');
  const onInt = () => signalled('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  let proc: ServerProcess;
  try {
    proc = await ServerProcess.start(config, logger, metrics);
  } catch (e) {
    await feed?.close();
    throw file ? await blameOverlay(e, file, overlays()) : e;
  }
  const rt = proc.runtime;
  for (const fields of proc.listening) logger.info('listening', fields);
  const url = new URL(proc.listening[0]!.url);
  const realm = `${url.origin}/token`;

  let registry: DevRegistry | undefined;
  let stopping = false;
  if (dev) {
    let noRegistryWhy = noRegistry
      ? 'started with --no-registry'
      : `neither ${REGISTRY_BINS.join(' nor ')} is on PATH`;
    if (registryBin) {
      try {
        registry = await startDevRegistry({
          bin: registryBin,
          baseDir: config.baseDir,
          listen: registryListen,
          realm,
          service: config.token.services[0]!,
          issuer: config.token.issuer,
          rootcertbundle: config.token.keys[0]!.certificate!,
          avoidPorts: [Number(url.port)],
          output: (line) => io.stdout(`${line}\n`),
        });
        logger.info('registry started', {
          url: registry.url,
          pid: registry.pid,
          bin: registryBin,
          config: registry.configPath,
        });
        const r = registry;
        void r.exited.then((code) => {
          if (!stopping) logger.error('the development registry exited; tokens are still served', { code });
        });
      } catch (e) {
        const err = e as PurserError;
        noRegistryWhy = `${registryBin}: ${err.message}`;
        logger.error('the development registry did not start', {
          bin: registryBin,
          error: err.message,
          ...(err.detail ? { log: err.detail } : {}),
        });
      }
    }
    const service = config.token.services[0]!;
    io.stdout(
      devBanner({
        realm,
        user: DEV_USER,
        password: dev.password,
        baseDir: config.baseDir,
        service,
        issuer: config.token.issuer,
        snippet: registrySnippets(config, realm).distribution2,
        ...(registry
          ? { registry: { host: registry.host, storage: registry.storage } }
          : { noRegistry: noRegistryWhy }),
      }),
    );
  }

  // SIGHUP and a change to the file or a file it names both reload.
  const queue = new ReloadQueue(async (trigger) => {
    if (!file) return;
    const before = rt.state.config;
    const r = await proc.reload(file, { overlays: overlays(), trigger });
    if (!r.ok) {
      if (r.secret) metrics.configSourceErrors.inc({ source: r.secret.kind });
      logger.error('configuration reload failed; keeping the previous configuration', {
        trigger,
        ...(r.secret ? { secret: r.secret.name } : {}),
        key: r.key,
        error: r.error,
      });
      return;
    }
    const next = rt.state.config;
    for (const [msg, fields] of restartNeeded(before, next)) logger.warn(msg, fields);
    watch.set(referencedFiles(next));
    logger.info('configuration reloaded', { file, trigger, generation: r.generation });
  });
  const watch = new FileWatch(() => queue.trigger('file change'), {
    onError: (dir, err) =>
      logger.warn('cannot watch for changes; SIGHUP still reloads', { dir, error: err.message }),
  });
  if (file) watch.set(referencedFiles(config));
  feed?.onChange(() => queue.trigger('Secret change'));
  const onHup = () => queue.trigger('SIGHUP');
  process.on('SIGHUP', onHup);

  const signal = await stopRequested;
  logger.info('shutting down', { signal });
  stopping = true;
  watch.close();
  process.off('SIGHUP', onHup);
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  await feed?.close();
  await queue.stop();
  let force: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([proc.drain(shutdownTimeoutMs), registry?.stop()]),
    // Past the deadline the drain cuts what is left; this only guards a close that hangs.
    new Promise<void>((resolve) => {
      force = setTimeout(resolve, shutdownTimeoutMs + 10_000);
      force.unref();
    }),
  ]);
  clearTimeout(force);
  return 0;
}

function numberFlag(
  values: Values,
  name: string,
  o: { integer: boolean; min: number; max: number },
): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (
    raw.trim() === '' ||
    !Number.isFinite(n) ||
    (o.integer && !Number.isInteger(n)) ||
    n < o.min ||
    n > o.max
  )
    throw new UsageError(
      `--${name}: expected ${o.integer ? 'an integer' : 'a number'} from ${o.min} to ${o.max}, got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  return n;
}
