// GENERATED from src/credhelper/main.ts by `node dist/src/credhelper/bundle.js`: do not edit.
// Node built-ins only: the action runs without npm install, on the runner's node24.
// docker-credential-purser: a docker credential helper that answers `get` with a fresh OIDC
// token from the environment it runs in (GitHub Actions, GitLab CI, Kubernetes, a command),
// for a Purser provider whose name is the Basic username.
//
// This module uses node built-ins only and imports nothing else: it is also shipped, compiled
// and unchanged, as actions/login/dist/credhelper.mjs (see bundle.ts), so the GitHub Action
// runs it without `npm install`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
export const VERSION = '0.1.0';
export const NAME = 'docker-credential-purser';
/** What docker's client (and containers/image) compare stdout with to fall back to other credentials. */
export const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';
/** The protocol's message for a `get`/`erase` without a server URL. */
export const MISSING_SERVER_URL_MESSAGE = 'no credentials server URL';
export const DEFAULT_GITLAB_VARIABLE = 'PURSER_ID_TOKEN';
export const DEFAULT_KUBERNETES_TOKEN = '/var/run/secrets/tokens/purser';
export const DEFAULT_REFRESH_BEFORE = 60;
/** A failure that ends the command with a message and exit code 1. */
export class HelperError extends Error {
    name = 'HelperError';
}
// ---------- registries ----------
/**
 * The key a registry is known by: scheme, path, trailing slashes and case dropped.
 * `https://Registry.example.com:5000/v2/` -> `registry.example.com:5000`.
 */
export function normaliseRegistry(input) {
    let s = input.trim();
    s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
    const slash = s.indexOf('/');
    if (slash >= 0)
        s = s.slice(0, slash);
    return s.toLowerCase();
}
/** The host part of a normalised registry (no port; IPv6 brackets kept). */
export function registryHost(registry) {
    const r = normaliseRegistry(registry);
    if (r.startsWith('[')) {
        const end = r.indexOf(']');
        return end >= 0 ? r.slice(0, end + 1) : r;
    }
    const colon = r.lastIndexOf(':');
    return colon >= 0 && r.indexOf(':') === colon ? r.slice(0, colon) : r;
}
// ---------- configuration ----------
export function defaultConfigPath(env) {
    const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
    return join(base, 'purser', 'credhelper.json');
}
export function defaultCacheDir(env) {
    const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
    return join(base, 'purser', 'credhelper');
}
const SOURCE_TYPES = ['github', 'gitlab', 'kubernetes', 'command', 'auto'];
function isRecord(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function fail(where, msg) {
    throw new HelperError(`${where}: ${msg}`);
}
function optString(obj, key, where) {
    const v = obj[key];
    if (v === undefined)
        return undefined;
    if (typeof v !== 'string' || v.trim() === '')
        fail(`${where}.${key}`, 'must be a non-empty string');
    return v;
}
/** Parses a `source` value: a type name, or an object `{type, variable, path, command}`. */
export function parseSource(value, where) {
    const obj = value === undefined
        ? { type: 'auto' }
        : typeof value === 'string'
            ? { type: value }
            : isRecord(value)
                ? value
                : {};
    if (!isRecord(value) && value !== undefined && typeof value !== 'string') {
        fail(where, 'must be a source name (github, gitlab, kubernetes, command, auto) or an object with "type"');
    }
    const type = obj.type;
    if (typeof type !== 'string' || !SOURCE_TYPES.includes(type)) {
        fail(`${where}${isRecord(value) ? '.type' : ''}`, `unknown source ${JSON.stringify(type)}; use one of ${SOURCE_TYPES.join(', ')}`);
    }
    const known = {
        github: ['type'],
        gitlab: ['type', 'variable'],
        kubernetes: ['type', 'path'],
        command: ['type', 'command'],
        auto: ['type', 'variable', 'path'],
    };
    for (const k of Object.keys(obj)) {
        if (!known[type].includes(k))
            fail(`${where}.${k}`, `unknown key for source ${type}`);
    }
    const variable = optString(obj, 'variable', where) ?? DEFAULT_GITLAB_VARIABLE;
    const path = optString(obj, 'path', where) ?? DEFAULT_KUBERNETES_TOKEN;
    switch (type) {
        case 'github':
            return { type };
        case 'gitlab':
            return { type, variable };
        case 'kubernetes':
            return { type, path };
        case 'auto':
            return { type, variable, path };
        default: {
            const c = obj.command;
            const ok = (typeof c === 'string' && c.trim() !== '') ||
                (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string'));
            if (!ok)
                fail(`${where}.command`, 'required for source "command": a shell command string or an argv list');
            return { type: 'command', command: c };
        }
    }
}
function parseEntry(key, value, where) {
    if (!isRecord(value))
        fail(where, 'must be an object {provider, audience, source}');
    for (const k of Object.keys(value)) {
        if (!['provider', 'audience', 'source'].includes(k))
            fail(`${where}.${k}`, 'unknown key (provider, audience, source)');
    }
    const registry = normaliseRegistry(key);
    if (registry === '')
        fail(where, 'empty registry name');
    const source = parseSource(value.source, `${where}.source`);
    const provider = optString(value, 'provider', where);
    if (provider === undefined && source.type === 'command')
        fail(`${where}.provider`, 'required with source "command"');
    return {
        registry,
        provider,
        audience: optString(value, 'audience', where) ?? registryHost(registry),
        source,
    };
}
/** Parses the JSON configuration document (already read). Relative paths resolve from `baseDir`. */
export function parseConfig(doc, file, env) {
    const where = file ?? 'config';
    if (!isRecord(doc))
        fail(where, 'must be a JSON object');
    for (const k of Object.keys(doc)) {
        if (!['registries', 'cacheDir', 'refreshBefore'].includes(k)) {
            fail(`${where}: ${k}`, 'unknown key (registries, cacheDir, refreshBefore)');
        }
    }
    const registries = new Map();
    const regs = doc.registries ?? {};
    if (!isRecord(regs))
        fail(`${where}: registries`, 'must be an object mapping host[:port] to {provider, audience, source}');
    for (const [key, value] of Object.entries(regs)) {
        const e = parseEntry(key, value, `${where}: registries[${JSON.stringify(key)}]`);
        if (registries.has(e.registry))
            fail(`${where}: registries[${JSON.stringify(key)}]`, `${e.registry} is listed twice`);
        registries.set(e.registry, e);
    }
    const baseDir = file ? dirname(file) : process.cwd();
    const cacheDirRaw = optString(doc, 'cacheDir', `${where}: `);
    const cacheDir = cacheDirRaw ? resolve(baseDir, cacheDirRaw) : defaultCacheDir(env);
    const rb = doc.refreshBefore ?? DEFAULT_REFRESH_BEFORE;
    if (typeof rb !== 'number' || !Number.isInteger(rb) || rb < 0) {
        fail(`${where}: refreshBefore`, 'must be a whole number of seconds >= 0');
    }
    for (const e of registries.values()) {
        if (e.source.type === 'kubernetes' && !isAbsolute(e.source.path))
            e.source.path = resolve(baseDir, e.source.path);
    }
    return { file, registries, cacheDir, refreshBefore: rb };
}
/** The registry configured by environment variables (PURSER_REGISTRY and friends), if any. */
export function entriesFromEnv(env) {
    const list = (env.PURSER_REGISTRY ?? '').split(/[\s,]+/).filter((s) => s !== '');
    if (list.length === 0)
        return [];
    const where = 'environment';
    const src = { type: env.PURSER_TOKEN_SOURCE || 'auto' };
    if (env.PURSER_TOKEN_VARIABLE)
        src.variable = env.PURSER_TOKEN_VARIABLE;
    if (env.PURSER_TOKEN_FILE)
        src.path = env.PURSER_TOKEN_FILE;
    if (env.PURSER_TOKEN_COMMAND)
        src.command = env.PURSER_TOKEN_COMMAND;
    // Keys that do not belong to the chosen source are ignored rather than refused.
    const type = String(src.type);
    if (type !== 'gitlab' && type !== 'auto')
        delete src.variable;
    if (type !== 'kubernetes' && type !== 'auto')
        delete src.path;
    if (type !== 'command')
        delete src.command;
    let source;
    try {
        source = parseSource(src, 'PURSER_TOKEN_SOURCE');
    }
    catch (e) {
        throw new HelperError(`${where}: ${e.message}`);
    }
    return list.map((r) => {
        const registry = normaliseRegistry(r);
        const provider = env.PURSER_PROVIDER || undefined;
        if (provider === undefined && source.type === 'command') {
            throw new HelperError(`${where}: PURSER_PROVIDER is required with PURSER_TOKEN_SOURCE=command`);
        }
        return { registry, provider, audience: env.PURSER_AUDIENCE || registryHost(registry), source };
    });
}
/**
 * Reads the configuration: the file named by PURSER_CREDHELPER_CONFIG (which must exist), else
 * the default file (if it exists), then registries from the environment, which win.
 */
export function loadConfig(env) {
    const explicit = env.PURSER_CREDHELPER_CONFIG;
    const file = explicit ? resolve(explicit) : defaultConfigPath(env);
    let text;
    try {
        text = readFileSync(file, 'utf8');
    }
    catch (e) {
        const code = e.code;
        if (explicit || code !== 'ENOENT') {
            throw new HelperError(`cannot read config ${file} (PURSER_CREDHELPER_CONFIG): ${e.message}`);
        }
    }
    let cfg;
    if (text === undefined) {
        cfg = {
            file: undefined,
            registries: new Map(),
            cacheDir: defaultCacheDir(env),
            refreshBefore: DEFAULT_REFRESH_BEFORE,
        };
    }
    else {
        let doc;
        try {
            doc = JSON.parse(text);
        }
        catch (e) {
            throw new HelperError(`${file}: not valid JSON: ${e.message}`);
        }
        cfg = parseConfig(doc, file, env);
    }
    for (const e of entriesFromEnv(env))
        cfg.registries.set(e.registry, e);
    if (env.PURSER_CREDHELPER_CACHE)
        cfg.cacheDir = resolve(env.PURSER_CREDHELPER_CACHE);
    return cfg;
}
// ---------- JWTs ----------
/** The payload of a compact JWT, decoded without verifying anything; undefined when it is not one. */
export function decodeJwtPayload(token) {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[1] === undefined)
        return undefined;
    try {
        const p = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
        return isRecord(p) ? p : undefined;
    }
    catch {
        return undefined;
    }
}
const nowSeconds = () => Math.floor(Date.now() / 1000);
/** `exp` as a number, or undefined. */
export function jwtExpiry(token) {
    const exp = decodeJwtPayload(token)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
}
/**
 * Whether a token may still be handed out at `now`: it must be valid for `refreshBefore` more
 * seconds, a margin capped at half its lifetime (`exp - iat`) so short-lived tokens are reused too.
 */
export function isFresh(token, refreshBefore, now = nowSeconds()) {
    const p = decodeJwtPayload(token);
    const exp = p?.exp;
    if (typeof exp !== 'number')
        return false;
    let margin = refreshBefore;
    if (typeof p?.iat === 'number' && exp > p.iat)
        margin = Math.min(margin, Math.floor((exp - p.iat) / 2));
    return now < exp - margin;
}
function audiencesOf(token) {
    const aud = decodeJwtPayload(token)?.aud;
    if (typeof aud === 'string')
        return [aud];
    return Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [];
}
// ---------- token sources ----------
export const GITHUB_PERMISSION_HINT = 'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: the workflow or job needs `permissions: id-token: write` (pull requests from forks never get an ID token)';
/**
 * Requests a GitHub Actions ID token for `audience`, as actions/toolkit does: GET the request
 * URL plus `audience`, `Authorization: Bearer <request token>`; the answer is `{"value": JWT}`.
 * Network errors and 5xx answers are retried.
 */
export async function fetchGithubIdToken(env, audience, opts = {}) {
    const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
    const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
    if (!url || !requestToken)
        throw new HelperError(GITHUB_PERMISSION_HINT);
    let u;
    try {
        u = new URL(url);
    }
    catch {
        throw new HelperError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
    }
    u.searchParams.set('audience', audience);
    const attempts = opts.attempts ?? 3;
    let last = '';
    for (let i = 0; i < attempts; i++) {
        if (i > 0)
            await new Promise((r) => setTimeout(r, 250 * 2 ** i));
        let res;
        try {
            res = await fetch(u, {
                headers: {
                    authorization: `Bearer ${requestToken}`,
                    accept: 'application/json; api-version=2.0',
                    'user-agent': `${NAME}/${VERSION}`,
                },
                signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
            });
        }
        catch (e) {
            last = `request failed: ${e.message}`;
            continue;
        }
        const text = await res.text().catch(() => '');
        if (res.status >= 500) {
            last = `HTTP ${res.status}`;
            continue;
        }
        if (res.status !== 200) {
            throw new HelperError(`GitHub ID token request for audience ${JSON.stringify(audience)} refused: HTTP ${res.status} ${text.slice(0, 200).trim()}`);
        }
        let value;
        try {
            value = JSON.parse(text).value;
        }
        catch {
            throw new HelperError('GitHub ID token response is not JSON');
        }
        if (typeof value !== 'string' || decodeJwtPayload(value) === undefined) {
            throw new HelperError('GitHub ID token response has no JWT in "value"');
        }
        return value;
    }
    throw new HelperError(`GitHub ID token request failed after ${attempts} attempts: ${last}`);
}
function readGitlab(env, variable) {
    const v = env[variable]?.trim();
    if (!v) {
        throw new HelperError(`GitLab ID token variable ${variable} is not set: declare it in the job's id_tokens (e.g. id_tokens: { ${variable}: { aud: <audience> } })`);
    }
    return v;
}
function readTokenFile(path) {
    let v;
    try {
        v = readFileSync(path, 'utf8').trim();
    }
    catch (e) {
        throw new HelperError(`cannot read the Kubernetes service account token ${path}: ${e.message}`);
    }
    if (v === '')
        throw new HelperError(`the Kubernetes service account token ${path} is empty`);
    return v;
}
function runCommand(command, env, timeoutMs = 30_000) {
    const [file, args] = typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0], command.slice(1)];
    const shown = typeof command === 'string' ? command : command.join(' ');
    return new Promise((resolvePromise, reject) => {
        const child = spawn(file, args, { env: env, stdio: ['ignore', 'pipe', 'pipe'] });
        const out = [];
        const err = [];
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.on('data', (b) => out.push(b));
        child.stderr.on('data', (b) => err.push(b));
        child.on('error', (e) => {
            clearTimeout(timer);
            reject(new HelperError(`token command ${JSON.stringify(shown)} could not run: ${e.message}`));
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            const stderr = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ');
            if (code !== 0) {
                reject(new HelperError(`token command ${JSON.stringify(shown)} failed (${signal ? `signal ${signal}` : `exit ${code}`})${stderr ? `: ${stderr}` : ''}`));
                return;
            }
            const token = Buffer.concat(out).toString('utf8').trim();
            if (token === '')
                reject(new HelperError(`token command ${JSON.stringify(shown)} printed nothing`));
            else
                resolvePromise(token);
        });
    });
}
/** The source to use: `auto` resolved against the environment. */
export function resolveSource(source, env) {
    if (source.type !== 'auto')
        return source;
    if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
        return { type: 'github' };
    if (env[source.variable])
        return { type: 'gitlab', variable: source.variable };
    let hasFile = false;
    try {
        hasFile = statSync(source.path).isFile();
    }
    catch {
        hasFile = false;
    }
    if (hasFile)
        return { type: 'kubernetes', path: source.path };
    const why = [
        env.GITHUB_ACTIONS === 'true'
            ? `GitHub Actions: ${GITHUB_PERMISSION_HINT}`
            : 'not GitHub Actions (no ACTIONS_ID_TOKEN_REQUEST_URL)',
        env.GITLAB_CI === 'true'
            ? `GitLab CI: no ${source.variable} variable (declare it in the job's id_tokens)`
            : `not GitLab CI (no ${source.variable} variable)`,
        `no Kubernetes token file ${source.path}`,
    ];
    throw new HelperError(`no token source available: ${why.join('; ')}`);
}
export function cacheKey(entry, source, env) {
    const h = createHash('sha256');
    if (source.type === 'github') {
        // Per job: a self-hosted runner's home outlives the job, and another job must never get this token.
        const rt = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN ?? '';
        h.update(JSON.stringify([
            'github',
            env.ACTIONS_ID_TOKEN_REQUEST_URL,
            createHash('sha256').update(rt).digest('hex'),
            entry.audience,
        ]));
    }
    else if (source.type === 'command') {
        h.update(JSON.stringify(['command', source.command, entry.registry, entry.audience]));
    }
    else {
        return undefined; // a variable or a file: already local, read it every time
    }
    return h.digest('hex').slice(0, 40);
}
export function readCache(dir, key, refreshBefore) {
    try {
        const c = JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8'));
        if (typeof c.token === 'string' && isFresh(c.token, refreshBefore))
            return c.token;
    }
    catch {
        // missing or unreadable: fetch
    }
    return undefined;
}
/** Writes a cache entry atomically, the dir 0700 and the file 0600. Best effort. */
export function writeCache(dir, key, token) {
    const exp = jwtExpiry(token);
    if (exp === undefined)
        return;
    try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = join(dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
        writeFileSync(tmp, JSON.stringify({ token, exp }), { mode: 0o600 });
        chmodSync(tmp, 0o600);
        renameSync(tmp, join(dir, `${key}.json`));
    }
    catch {
        // a cache that cannot be written only costs a fetch
    }
}
export function dropCache(dir, key) {
    rmSync(join(dir, `${key}.json`), { force: true });
}
/** The credentials for a configured registry: from the cache, else from its source. */
export async function credentialsFor(entry, cfg, env, warn = (m) => process.stderr.write(`${NAME}: warning: ${m}\n`)) {
    const source = resolveSource(entry.source, env);
    const username = entry.provider ?? source.type;
    const key = cacheKey(entry, source, env);
    if (key !== undefined) {
        const cached = readCache(cfg.cacheDir, key, cfg.refreshBefore);
        if (cached !== undefined)
            return { username, secret: cached };
    }
    let token;
    switch (source.type) {
        case 'github':
            token = await fetchGithubIdToken(env, entry.audience);
            break;
        case 'gitlab':
            token = readGitlab(env, source.variable);
            break;
        case 'kubernetes':
            token = readTokenFile(source.path);
            break;
        case 'command':
            token = await runCommand(source.command, {
                ...env,
                PURSER_REGISTRY: entry.registry,
                PURSER_AUDIENCE: entry.audience,
            });
            break;
    }
    const payload = decodeJwtPayload(token);
    if (payload === undefined)
        throw new HelperError(`the ${source.type} token source did not give a JWT`);
    const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
    if (exp !== undefined && exp <= nowSeconds()) {
        throw new HelperError(`the ${source.type} token expired at ${new Date(exp * 1000).toISOString()}${source.type === 'gitlab' ? ' (the job outlived its id_tokens token)' : ''}`);
    }
    if (source.type !== 'github') {
        const auds = audiencesOf(token);
        if (auds.length > 0 && !auds.includes(entry.audience)) {
            // Not fatal: Purser may accept several audiences. But usually it is the reason for a 401.
            warn(`the ${source.type} token's aud ${JSON.stringify(auds)} does not include ${JSON.stringify(entry.audience)} (the configured audience for ${entry.registry})`);
        }
    }
    if (key !== undefined)
        writeCache(cfg.cacheDir, key, token);
    return { username, secret: token };
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
function errorOut(io, message) {
    io.stderr(`${NAME}: ${message}\n`);
    // docker and containers/image show only the helper's stdout in their error message.
    if (!io.stdoutIsTty)
        io.stdout(`${message}\n`);
    return 1;
}
/** Runs one helper command; returns the exit code. */
export async function runHelper(argv, io) {
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
                const out = {};
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
                io.stdout(`${JSON.stringify({ ServerURL: serverUrl, Username: creds.username, Secret: creds.secret })}\n`);
                return 0;
            }
            case 'store': {
                const text = await io.readStdin();
                let doc;
                try {
                    doc = JSON.parse(text);
                }
                catch {
                    return errorOut(io, 'store: stdin is not the JSON {"ServerURL","Username","Secret"}');
                }
                const url = isRecord(doc) && typeof doc.ServerURL === 'string' ? doc.ServerURL.trim() : '';
                if (url === '') {
                    io.stdout(`${MISSING_SERVER_URL_MESSAGE}\n`);
                    return 1;
                }
                const reg = normaliseRegistry(url);
                if (cfg.registries.has(reg))
                    return 0; // nothing to keep: every `get` makes fresh credentials
                return errorOut(io, `stores no credentials: ${reg} is not configured for ${NAME} (its credentials come from the CI environment; see ${cfg.file ?? defaultConfigPath(io.env)})`);
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
                        if (key !== undefined)
                            dropCache(cfg.cacheDir, key);
                    }
                    catch {
                        // no source here: nothing cached either
                    }
                }
                return 0;
            }
        }
    }
    catch (e) {
        if (e instanceof HelperError)
            return errorOut(io, e.message);
        return errorOut(io, `unexpected error: ${e instanceof Error ? e.message : String(e)}`);
    }
}
async function readAll(stream) {
    const chunks = [];
    for await (const c of stream)
        chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
    return Buffer.concat(chunks).toString('utf8');
}
/** The command line entry: real stdin/stdout/stderr and environment. */
export function main(argv) {
    return runHelper(argv, {
        readStdin: () => readAll(process.stdin),
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        env: process.env,
        stdoutIsTty: process.stdout.isTTY === true,
    });
}
/** Whether the module at `moduleUrl` is the script node was started with (not imported). */
export function isEntryPoint(moduleUrl) {
    const arg = process.argv[1];
    if (!arg)
        return false;
    try {
        return realpathSync(arg) === realpathSync(fileURLToPath(moduleUrl));
    }
    catch {
        return false;
    }
}
// Run directly (the action's bundled copy, actions/login/dist/credhelper.mjs): be the helper.
// Imported (bin/docker-credential-purser.js, the action, tests): do nothing.
if (isEntryPoint(import.meta.url)) {
    main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
        process.stderr.write(`${NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
    });
}
