import { type Config, loadConfigFile } from '../config/load.js';
import { RegistryProxy } from '../proxy/server.js';
import { buildApp } from '../server/app.js';
import { TokenHttpServer } from '../server/http.js';
import { Metrics } from '../server/metrics.js';
import { createLogger } from '../util/log.js';
import { DEV_USER, embeddedDefault } from './embedded.js';
import { registrySnippets } from './registry-config.js';
import { type CommandIo, flag, parse, str } from './usage.js';

export const SERVE_HELP = `Usage: purser serve [--config FILE]

Runs the token server (and the proxy when the config has proxy:).
Without --config, runs the embedded development default: keys and a development
user under ./.purser/, listening on 127.0.0.1:5001 (PURSER_LISTEN overrides).

Signals: SIGHUP reloads the configuration file (the old one stays on error);
SIGTERM/SIGINT stop after requests in flight finish.

Options:
  --config FILE   YAML configuration file (see docs/configuration.md)
`;

export async function serveCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } });
  if (flag(values, 'help')) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  const file = str(values, 'config');
  let config: Readonly<Config>;
  let dev: { password: string } | undefined;
  if (file) config = loadConfigFile(file);
  else {
    const d = await embeddedDefault();
    config = d.config;
    dev = d;
  }
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const metrics = new Metrics();
  const state = await buildApp(config, logger, metrics);
  const server = new TokenHttpServer(state, logger, metrics);
  const url = await server.listen(config.listen, config.tls);
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
  if (config.proxy) {
    proxy = new RegistryProxy(config.proxy, server, logger, metrics);
    const purl = await proxy.listen();
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

  if (dev) {
    const s = registrySnippets(config, realm);
    io.stdout(
      `\n  Purser is running on its embedded DEVELOPMENT default. Do not use it in production:\n` +
        `  write a config file and run: purser serve --config FILE\n\n` +
        `  token endpoint:    ${realm}\n  development user:  ${DEV_USER}\n  password:          ${dev.password}\n` +
        `  anonymous callers: pull only\n  state:             ${config.baseDir}\n\n` +
        `  Point a registry at it, for example distribution 2.x (registry.yml):\n\n${indent(s.distribution2)}\n` +
        `  then: docker login <registry> -u ${DEV_USER}\n\n`,
    );
  }

  let reloading = false;
  const reload = async () => {
    if (!file || reloading) return;
    reloading = true;
    try {
      const next = loadConfigFile(file);
      if (next.listen !== config.listen)
        logger.warn('listen changed; restart to apply it', { listen: next.listen });
      if (JSON.stringify(next.limits) !== JSON.stringify(config.limits))
        logger.warn('limits changed; restart to apply them');
      if (JSON.stringify(next.proxy) !== JSON.stringify(config.proxy))
        logger.warn('proxy settings changed; restart to apply them');
      server.setState(await buildApp(next, logger, metrics, { previous: server.state }));
      metrics.reloads.inc({ outcome: 'ok' });
      logger.info('configuration reloaded', { file });
    } catch (e) {
      metrics.reloads.inc({ outcome: 'error' });
      logger.error('configuration reload failed; keeping the previous configuration', {
        error: (e as Error).message,
      });
    } finally {
      reloading = false;
    }
  };
  process.on('SIGHUP', () => void reload());

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info('shutting down', { signal });
      const force = setTimeout(() => resolve(), 10_000);
      force.unref();
      Promise.all([server.close(), proxy?.close()]).then(() => resolve());
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => (l ? `    ${l}` : l))
    .join('\n');
}
