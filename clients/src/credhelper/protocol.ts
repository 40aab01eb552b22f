// The docker credential-helper protocol (docker/docker-credential-helpers): get, store, erase,
// list and version, with stdin/stdout/stderr and the environment passed in.
import { type Env, isRecord } from '../env.js';
import { HelperError } from '../errors.js';
import { normaliseRegistry } from '../registry.js';
import { resolveSource } from '../sources/auto.js';
import { DEFAULT_GITLAB_VARIABLE, DEFAULT_KUBERNETES_TOKEN } from '../sources/source.js';
import { NAME, VERSION } from '../version.js';
import { cacheKey, dropCache } from './cache.js';
import { defaultConfigPath, loadConfig } from './config.js';
import { credentialsFor } from './credentials.js';

/** What docker's client (and containers/image) compare stdout with to fall back to other credentials. */
export const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';
/** The protocol's message for a `get`/`erase` without a server URL. */
export const MISSING_SERVER_URL_MESSAGE = 'no credentials server URL';

export interface Io {
  readStdin(): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
  env: Env;
  /** Whether stdout is a terminal (errors are then not repeated there). */
  stdoutIsTty?: boolean;
}

export const USAGE = `Usage: ${NAME} <get|store|erase|list|version>

A docker credential helper that logs in to a Purser-protected registry with the OIDC
token of the CI job or pod it runs in (GitHub Actions, GitLab CI id_tokens, a Kubernetes
projected service account token, or a command). The Basic username is the Purser
provider's name; the password is a fresh JWT, cached until shortly before it expires.

  get       reads a registry (server URL) on stdin, prints {"ServerURL","Username","Secret"};
            for a registry not configured: exit 1, stdout "${NOT_FOUND_MESSAGE}"
  store     stores nothing: succeeds for a configured registry (docker login), fails otherwise
  erase     drops the cached token of a configured registry; nothing else to erase
  list      prints {"registry": "provider", ...} for the configured registries
  version   prints the version

Docker config:   {"credHelpers": {"registry.example.com": "purser"}}
Configuration:   $PURSER_CREDHELPER_CONFIG, default \${XDG_CONFIG_HOME:-~/.config}/purser/credhelper.json
  {"registries": {"registry.example.com": {"provider": "github", "audience": "registry.example.com",
                                           "source": "github"}},
   "cacheDir": "...", "refreshBefore": 60}
  source: github | gitlab | kubernetes | command | auto (default), or an object
          {"type": "gitlab", "variable": "${DEFAULT_GITLAB_VARIABLE}"}, {"type": "kubernetes", "path": "${DEFAULT_KUBERNETES_TOKEN}"},
          {"type": "command", "command": "vault read -field=token ..."}
Environment (adds a registry, over the file): PURSER_REGISTRY (host[:port], comma-separated list),
  PURSER_PROVIDER, PURSER_AUDIENCE, PURSER_TOKEN_SOURCE, PURSER_TOKEN_VARIABLE, PURSER_TOKEN_FILE,
  PURSER_TOKEN_COMMAND; PURSER_CREDHELPER_CACHE (cache dir, default ~/.cache/purser/credhelper).
`;

function errorOut(io: Io, message: string): number {
  io.stderr(`${NAME}: ${message}\n`);
  // docker and containers/image show only the helper's stdout in their error message.
  if (!io.stdoutIsTty) io.stdout(`${message}\n`);
  return 1;
}

/** Runs one helper command; returns the exit code. */
export async function runHelper(argv: readonly string[], io: Io): Promise<number> {
  const action = argv[0];
  if (action === undefined) {
    io.stderr(USAGE);
    return 2;
  }
  if (action === '--help' || action === '-h' || action === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  if (action === 'version' || action === '--version') {
    io.stdout(`${NAME} (purser) ${VERSION}\n`);
    return 0;
  }
  if (!['get', 'store', 'erase', 'list'].includes(action)) {
    io.stderr(`${NAME}: unknown credential action \`${action}\`\n${USAGE}`);
    return 2;
  }
  if (argv.length > 1) {
    io.stderr(`${NAME}: ${action} takes no arguments (input comes on stdin)\n`);
    return 2;
  }
  try {
    const cfg = loadConfig(io.env);
    switch (action) {
      case 'list': {
        const out: Record<string, string> = {};
        for (const e of cfg.registries.values())
          out[e.registry] = e.provider ?? (e.source.type === 'auto' ? '' : e.source.type);
        io.stdout(`${JSON.stringify(out)}\n`);
        return 0;
      }
      case 'get': {
        const serverUrl = (await io.readStdin()).trim();
        if (serverUrl === '') {
          io.stdout(`${MISSING_SERVER_URL_MESSAGE}\n`);
          return 1;
        }
        const entry = cfg.registries.get(normaliseRegistry(serverUrl));
        if (!entry) {
          io.stdout(`${NOT_FOUND_MESSAGE}\n`);
          return 1;
        }
        const creds = await credentialsFor(entry, cfg, io.env, (m) => io.stderr(`${NAME}: warning: ${m}\n`));
        io.stdout(
          `${JSON.stringify({ ServerURL: serverUrl, Username: creds.username, Secret: creds.secret })}\n`,
        );
        return 0;
      }
      case 'store': {
        const text = await io.readStdin();
        let doc: unknown;
        try {
          doc = JSON.parse(text);
        } catch {
          return errorOut(io, 'store: stdin is not the JSON {"ServerURL","Username","Secret"}');
        }
        const url = isRecord(doc) && typeof doc.ServerURL === 'string' ? doc.ServerURL.trim() : '';
        if (url === '') {
          io.stdout(`${MISSING_SERVER_URL_MESSAGE}\n`);
          return 1;
        }
        const reg = normaliseRegistry(url);
        if (cfg.registries.has(reg)) return 0; // nothing to keep: every `get` makes fresh credentials
        return errorOut(
          io,
          `stores no credentials: ${reg} is not configured for ${NAME} (its credentials come from the CI environment; see ${cfg.file ?? defaultConfigPath(io.env)})`,
        );
      }
      default: {
        // erase
        const serverUrl = (await io.readStdin()).trim();
        if (serverUrl === '') {
          io.stdout(`${MISSING_SERVER_URL_MESSAGE}\n`);
          return 1;
        }
        const entry = cfg.registries.get(normaliseRegistry(serverUrl));
        if (entry) {
          try {
            const key = cacheKey(entry, resolveSource(entry.source, io.env), io.env);
            if (key !== undefined) dropCache(cfg.cacheDir, key);
          } catch {
            // no source here: nothing cached either
          }
        }
        return 0;
      }
    }
  } catch (e) {
    if (e instanceof HelperError) return errorOut(io, e.message);
    return errorOut(io, `unexpected error: ${e instanceof Error ? e.message : String(e)}`);
  }
}
