import { openAuditLog } from '../audit/audit-log.js';
import { type Config, readKubernetesSection } from '../config/load.js';
import { ConfigError, type PurserError } from '../core/errors.js';
import { RegistryProxy } from '../proxy/server.js';
import {
  blameOverlay,
  type ConfigOverlay,
  type ConfigOverlaySource,
  loadConfigSecretsSource,
  loadLayeredConfig,
  overlayAtFault,
} from '../runtime/config-overlays.js';
import { FileWatch, referencedFiles } from '../runtime/file-watch.js';
import { closeState, Runtime } from '../runtime/runtime.js';
import { TlsReloader } from '../runtime/tls-reload.js';
import { buildApp } from '../server/app.js';
import { TokenHttpServer } from '../server/http.js';
import { Metrics } from '../server/metrics.js';
import { redisReady, redisStores } from '../state/redis-stores.js';
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
import { type CommandIo, flag, parse, str, UsageError } from './usage.js';

export const SERVE_HELP = `Usage: purser serve [--config FILE]
       purser serve [--registry-bin PATH | --no-registry]

Runs the token server (and the proxy when the config has proxy:).
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
and a change to them reloads too; an invalid Secret is logged with its name and the key at
fault, and the old one keeps serving. SIGTERM/SIGINT stop after requests in flight finish.

Options:
  --config FILE        YAML configuration file (see docs/configuration.md)
  --registry-bin PATH  the registry binary for the development default
  --no-registry        development default without the child registry
`;

export async function serveCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string', short: 'c' },
    'registry-bin': { type: 'string' },
    'no-registry': { type: 'boolean' },
  });
  if (flag(values, 'help')) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  const file = str(values, 'config');
  const registryBinFlag = str(values, 'registry-bin');
  const noRegistry = flag(values, 'no-registry');
  if (file && (registryBinFlag !== undefined || noRegistry))
    throw new UsageError(
      '--registry-bin and --no-registry apply to the development default only (no --config)',
    );
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
  let overlays: readonly ConfigOverlay[] = [];
  let overlaySource: ConfigOverlaySource | undefined;
  // A change while starting is kept and reloaded once reloads can run.
  let missedOverlays = false;
  let onOverlays: (list: readonly ConfigOverlay[]) => void = (list) => {
    overlays = list;
    missedOverlays = true;
  };
  const metrics = new Metrics();
  // Until the file's log: settings are known (the Secrets are read before the rest is valid).
  let logger = createLogger({});
  if (file) {
    const kube = readKubernetesSection(file);
    if (kube?.configSecrets) {
      const { namespace, labelSelector } = kube.configSecrets;
      overlaySource = await loadConfigSecretsSource(file, {
        namespace,
        labelSelector,
        onWatchError: (error, retryInMs) => {
          metrics.configSourceWatchRestarts.inc({ source: 'secret' });
          logger.warn('watching the config Secrets failed; restarting the watch', {
            namespace,
            labelSelector,
            error,
            retryInMs,
          });
        },
      });
      overlays = await overlaySource.start((list) => onOverlays(list));
    }
    try {
      config = loadLayeredConfig(file, overlays);
    } catch (caught) {
      await overlaySource?.close();
      throw await blameOverlay(caught, file, overlays);
    }
  } else {
    const d = await embeddedDefault();
    config = d.config;
    dev = d;
  }
  logger = createLogger({ level: config.log.level, format: config.log.format });
  // Shared stores are built once: reloads keep them (a changed redis: takes a restart).
  const shared = config.redis ? redisStores(config.redis, config.baseDir, logger) : undefined;
  if (shared && !(await redisReady(shared.client, 3_000)))
    logger.warn('redis not reachable yet; serving with its outage policy meanwhile', {
      rateLimits: config.redis!.onError.rateLimits,
      revocation: config.redis!.onError.revocation,
    });
  let state: Awaited<ReturnType<typeof buildApp>>;
  try {
    state = await buildApp(config, logger, metrics, shared ? { stores: shared.stores } : {});
  } catch (e) {
    await overlaySource?.close();
    await shared?.close();
    throw file ? await blameOverlay(e, file, overlays) : e;
  }
  const audit = openAuditLog(config.audit, { onDrop: () => metrics.auditDropped.inc() });
  let runtime: Runtime | undefined;
  const server = new TokenHttpServer(state, logger, metrics, { enter: () => runtime!.enter(), audit });
  runtime = new Runtime(state, (next) => server.setState(next));
  const rt = runtime;
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
  const url = await server.listen(config.listen, config.tls);
  const tokenTls = config.tls && server.server ? new TlsReloader('token', server.server, logger) : undefined;
  if (config.tls) tokenTls?.reload(config.tls, 'start');
  const realm = `${url.origin}/token`;
  logger.info('listening', {
    server: 'token',
    url: url.origin,
    issuer: config.token.issuer,
    services: config.token.services,
    keyId: config.token.keyId,
    kid: state.keyring.kidOf(state.keyring.keys[0]!),
  });

  let proxy: RegistryProxy | undefined;
  let proxyTls: TlsReloader | undefined;
  if (config.proxy) {
    proxy = new RegistryProxy(config.proxy, server, rt, logger, metrics);
    const purl = await proxy.listen();
    if (config.proxy.tls && proxy.server) {
      proxyTls = new TlsReloader('proxy', proxy.server, logger);
      proxyTls.reload(config.proxy.tls, 'start');
    }
    logger.info('listening', {
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

  // SIGHUP and a change to the file or a file it names both reload; one at a time, and a
  // trigger during a reload runs one more after it (it may have missed the change).
  let reloading: Promise<void> | undefined;
  let again: string | undefined;
  const reload = (trigger: string): void => {
    if (!file || stopping) return;
    if (reloading) {
      again = trigger;
      return;
    }
    reloading = reloadOnce(file, trigger).finally(() => {
      reloading = undefined;
      if (again !== undefined) {
        const t = again;
        again = undefined;
        reload(t);
      }
    });
  };
  onOverlays = (list) => {
    overlays = list;
    reload('Secret change');
  };
  const watch = new FileWatch(() => reload('file change'), {
    onError: (dir, err) =>
      logger.warn('cannot watch for changes; SIGHUP still reloads', { dir, error: err.message }),
  });
  if (file) watch.set(referencedFiles(config));
  const reloadOnce = async (path: string, trigger: string): Promise<void> => {
    const layers = overlays;
    try {
      const next = loadLayeredConfig(path, layers);
      const current = rt.state.config;
      if (JSON.stringify(next.kubernetes) !== JSON.stringify(current.kubernetes))
        logger.warn('kubernetes settings changed; restart to apply them');
      if (next.listen !== current.listen)
        logger.warn('listen changed; restart to apply it', { listen: next.listen });
      if (JSON.stringify(next.limits) !== JSON.stringify(current.limits))
        logger.warn('limits changed; restart to apply them');
      // proxy.tags is read from the state of each request and proxy.tls is applied below: a
      // reload applies both. The rest of proxy: takes a restart.
      const settings = (p: typeof next.proxy) => JSON.stringify(p && { ...p, tags: undefined, tls: 0 });
      if (settings(next.proxy) !== settings(current.proxy))
        logger.warn('proxy settings changed; restart to apply them');
      if (JSON.stringify(next.redis) !== JSON.stringify(current.redis))
        logger.warn('redis settings changed; restart to apply them');
      // Built whole before the swap: an invalid config never replaces a working one.
      const built = await buildApp(next, logger, metrics, { previous: rt.state });
      if (rt.closed) return void (await closeState(built));
      rt.swap(built);
      watch.set(referencedFiles(next));
      metrics.reloads.inc({ outcome: 'ok' });
      logger.info('configuration reloaded', { file: path, trigger, generation: rt.generation });
    } catch (caught) {
      const e = await blameOverlay(caught, path, layers);
      const secret = overlayAtFault(e, layers);
      metrics.reloads.inc({ outcome: 'error' });
      if (secret) metrics.configSourceErrors.inc({ source: secret.kind });
      logger.error('configuration reload failed; keeping the previous configuration', {
        trigger,
        ...(secret ? { secret: secret.name } : {}),
        ...(e instanceof ConfigError ? { key: e.path || undefined } : {}),
        error: (e as Error).message,
      });
    } finally {
      // Certificates follow the configuration in force (the previous one when the new one
      // was refused): a renewal is applied even while the config file has a typo.
      reloadTls(rt.state.config, trigger);
    }
  };
  const reloadTls = (c: Readonly<Config>, trigger: string): void => {
    for (const [reloader, tls, name] of [
      [tokenTls, c.tls, 'tls'],
      [proxyTls, c.proxy?.tls, 'proxy.tls'],
    ] as const) {
      if (reloader && tls) reloader.reload(tls, trigger);
      else if (!reloader !== !tls) logger.warn(`${name} added or removed; restart to apply it`);
    }
  };
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  if (missedOverlays) reload('Secret change');

  const signal = await stopRequested;
  logger.info('shutting down', { signal });
  stopping = true;
  watch.close();
  await overlaySource?.close();
  process.off('SIGHUP', onHup);
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  let force: NodeJS.Timeout | undefined;
  await Promise.race([
    // Listeners first (no new requests), then the runtime drains and closes every state.
    Promise.all([server.close(), proxy?.close(), registry?.stop()])
      .then(() => reloading)
      .then(() => rt.close())
      .then(() => shared?.close())
      .then(() => audit?.close()),
    new Promise<void>((resolve) => {
      force = setTimeout(resolve, 10_000);
      force.unref();
    }),
  ]);
  clearTimeout(force);
  return 0;
}
