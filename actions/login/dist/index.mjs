// GENERATED from src/credhelper/action.ts by `node dist/src/credhelper/bundle.js`: do not edit.
// Node built-ins only: the action runs without npm install, on the runner's node24.
// The `purser login` GitHub Action (actions/login): gets the job's OIDC ID token for the
// registry's audience and installs docker-credential-purser for that registry in the docker
// config (or writes a plain `auths` entry); its post step removes exactly what it added.
//
// Node built-ins and ./main.js only: compiled, this file is shipped as
// actions/login/dist/index.mjs (see bundle.ts) with ./main.js as ./credhelper.mjs.
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheKey, decodeJwtPayload, fetchGithubIdToken, GITHUB_PERMISSION_HINT, HelperError, isEntryPoint, jwtExpiry, normaliseRegistry, registryHost, writeCache, } from './credhelper.mjs';
/** The credHelpers value: docker runs `docker-credential-<value>`. */
export const HELPER_SUFFIX = 'purser';
const STATE_NAME = 'login';
// ---------- the runner's protocol ----------
/** An input as the runner passes it: INPUT_<NAME upper-cased, spaces as _>, trimmed. */
export function getInput(env, name) {
    return (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}
/** YAML 1.2 core booleans, as actions/toolkit's getBooleanInput. */
export function parseBoolean(name, value, dflt) {
    if (value === '')
        return dflt;
    if (['true', 'True', 'TRUE'].includes(value))
        return true;
    if (['false', 'False', 'FALSE'].includes(value))
        return false;
    throw new HelperError(`input ${name}: ${JSON.stringify(value)} is not a boolean (true or false)`);
}
export function readInputs(env) {
    const raw = getInput(env, 'registry');
    if (raw === '')
        throw new HelperError('input registry is required (host[:port] of the registry Purser protects)');
    const registry = normaliseRegistry(raw);
    if (registry === '' || /\s/.test(registry))
        throw new HelperError(`input registry: ${JSON.stringify(raw)} is not a registry host`);
    const provider = getInput(env, 'provider') || 'github';
    if (provider.includes(':'))
        throw new HelperError('input provider: a Basic username cannot contain ":"');
    return {
        registry,
        audience: getInput(env, 'audience') || registryHost(registry),
        provider,
        credentialHelper: parseBoolean('credential-helper', getInput(env, 'credential-helper'), true),
    };
}
/** Appends `name<<DELIM\nvalue\nDELIM` to a file command (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV). */
export function appendFileCommand(file, name, value) {
    const delim = `ghadelimiter_${randomUUID()}`;
    if (name.includes(delim) || value.includes(delim))
        throw new Error('unexpected delimiter collision');
    appendFileSync(file, `${name}<<${delim}\n${value}\n${delim}\n`, 'utf8');
}
/** Escapes a workflow command's message (actions/toolkit's escapeData). */
export function escapeData(s) {
    return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
// ---------- docker config ----------
export function dockerConfigPath(env) {
    return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}
function isRecord(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}
/** Reads a JSON object file; `undefined` when it does not exist. Refuses to go on with a broken one. */
export function readJsonObject(path) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch (e) {
        if (e.code === 'ENOENT')
            return undefined;
        throw new HelperError(`cannot read ${path}: ${e.message}`);
    }
    if (text.trim() === '')
        return {};
    let doc;
    try {
        doc = JSON.parse(text);
    }
    catch (e) {
        throw new HelperError(`${path} is not valid JSON (left unchanged): ${e.message}`);
    }
    if (!isRecord(doc))
        throw new HelperError(`${path} is not a JSON object (left unchanged)`);
    return doc;
}
export function writeJsonObject(path, doc) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}
/**
 * Sets `doc[section][key] = value`, keeping everything else. Returns the value it replaced
 * (`null`: there was none), for the post step.
 */
export function setEntry(doc, section, key, value) {
    const current = doc[section];
    if (current !== undefined && !isRecord(current)) {
        throw new HelperError(`"${section}" is not an object (left unchanged)`);
    }
    const obj = current ?? {};
    const previous = Object.hasOwn(obj, key) ? obj[key] : null;
    obj[key] = value;
    doc[section] = obj;
    return previous;
}
/** A digest of a JSON value: the post step recognises what it wrote without keeping a secret in state. */
export function digest(value) {
    return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
/**
 * Undoes setEntry: when `doc[section][key]` still holds the value whose digest is `valueDigest`,
 * puts `previous` back (or removes the key, and the section if that empties it). Returns false
 * when someone changed it since.
 */
export function revertEntry(doc, section, key, valueDigest, previous) {
    const obj = doc[section];
    if (!isRecord(obj) || !Object.hasOwn(obj, key))
        return previous === null;
    if (digest(obj[key]) !== valueDigest)
        return false;
    if (previous === null) {
        delete obj[key];
        if (Object.keys(obj).length === 0)
            delete doc[section];
    }
    else {
        obj[key] = previous;
    }
    return true;
}
// ---------- the credential helper on PATH ----------
const shq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
export function defaultHelperScript() {
    const sibling = fileURLToPath(new URL('./credhelper.mjs', import.meta.url));
    if (existsSync(sibling))
        return sibling;
    // Running from the compiled sources (dist/src/credhelper/action.js): the package's launcher.
    return fileURLToPath(new URL('../../../bin/docker-credential-purser.js', import.meta.url));
}
/** Writes `docker-credential-purser` (and a .cmd on Windows) into binDir: runs the helper with its config. */
export function writeWrapper(binDir, nodePath, script, configPath) {
    mkdirSync(binDir, { recursive: true, mode: 0o700 });
    const sh = join(binDir, `docker-credential-${HELPER_SUFFIX}`);
    writeFileSync(sh, `#!/bin/sh\n# Written by the purser login action for this job; its post step removes it.\nPURSER_CREDHELPER_CONFIG=${shq(configPath)} exec ${shq(nodePath)} ${shq(script)} "$@"\n`, { mode: 0o755 });
    chmodSync(sh, 0o755);
    if (process.platform === 'win32') {
        writeFileSync(`${sh}.cmd`, `@echo off\r\nset "PURSER_CREDHELPER_CONFIG=${configPath}"\r\n"${nodePath}" "${script}" %*\r\n`);
    }
    return sh;
}
/** Everything the main step does once it has a token; returns the state for the post step. */
export function install(inputs, token, io) {
    const env = io.env;
    const dockerConfig = dockerConfigPath(env);
    const existing = readJsonObject(dockerConfig);
    const doc = existing ?? {};
    const state = {
        registry: inputs.registry,
        dockerConfig,
        createdDockerConfig: existing === undefined,
        section: inputs.credentialHelper ? 'credHelpers' : 'auths',
        value: '',
        previous: null,
    };
    let value;
    if (inputs.credentialHelper) {
        const workDir = join(env.RUNNER_TEMP || tmpdir(), 'purser-login');
        const configPath = join(workDir, 'credhelper.json');
        const cacheDir = join(workDir, 'cache');
        const helperDoc = readJsonObject(configPath) ?? {};
        helperDoc.cacheDir = cacheDir;
        const entry = { provider: inputs.provider, audience: inputs.audience, source: 'github' };
        const helperPrevious = setEntry(helperDoc, 'registries', inputs.registry, entry);
        writeJsonObject(configPath, helperDoc);
        const wrapper = writeWrapper(join(workDir, 'bin'), io.nodePath ?? process.execPath, io.helperScript ?? defaultHelperScript(), configPath);
        // The helper would fetch this very token on its first `get`: hand it over.
        const re = {
            registry: inputs.registry,
            provider: inputs.provider,
            audience: inputs.audience,
            source: { type: 'github' },
        };
        const key = cacheKey(re, { type: 'github' }, env);
        if (key !== undefined)
            writeCache(cacheDir, key, token);
        if (env.GITHUB_PATH)
            appendFileSync(env.GITHUB_PATH, `${dirname(wrapper)}\n`, 'utf8');
        else
            io.stdout(`::warning::GITHUB_PATH is not set: add ${dirname(wrapper)} to PATH yourself\n`);
        state.helper = {
            workDir,
            config: configPath,
            entry: digest(entry),
            previous: helperPrevious,
            cacheKey: key,
            cacheDir,
        };
        value = HELPER_SUFFIX;
    }
    else {
        const auth = Buffer.from(`${inputs.provider}:${token}`).toString('base64');
        io.stdout(`::add-mask::${auth}\n`);
        value = { auth };
    }
    state.value = digest(value);
    state.previous = setEntry(doc, state.section, inputs.registry, value);
    writeJsonObject(dockerConfig, doc);
    return state;
}
/** Undoes `install`; returns notes on what it left alone. */
export function uninstall(state) {
    const notes = [];
    const doc = readJsonObject(state.dockerConfig);
    if (doc !== undefined) {
        if (!revertEntry(doc, state.section, state.registry, state.value, state.previous)) {
            notes.push(`${state.dockerConfig}: ${state.section}["${state.registry}"] was changed since login; left as it is`);
        }
        if (state.createdDockerConfig && Object.keys(doc).length === 0)
            rmSync(state.dockerConfig, { force: true });
        else
            writeJsonObject(state.dockerConfig, doc);
    }
    const h = state.helper;
    if (h) {
        const hdoc = readJsonObject(h.config);
        if (hdoc !== undefined) {
            if (!revertEntry(hdoc, 'registries', state.registry, h.entry, h.previous)) {
                notes.push(`${h.config}: registries["${state.registry}"] was changed since login; left as it is`);
            }
            const regs = hdoc.registries;
            if (!isRecord(regs) || Object.keys(regs).length === 0) {
                rmSync(h.workDir, { recursive: true, force: true }); // the last login of the job: config, cache, wrapper
                return notes;
            }
            writeJsonObject(h.config, hdoc);
        }
        if (h.cacheKey)
            rmSync(join(h.cacheDir, `${h.cacheKey}.json`), { force: true });
    }
    return notes;
}
export async function runMain(io) {
    const env = io.env;
    const out = io.stdout;
    // First: tells the post step it is the post step (the same file runs both).
    if (env.GITHUB_STATE)
        appendFileCommand(env.GITHUB_STATE, 'isPost', 'true');
    try {
        const inputs = readInputs(env);
        if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
            throw new HelperError(GITHUB_PERMISSION_HINT);
        }
        const token = await fetchGithubIdToken(env, inputs.audience);
        out(`::add-mask::${token}\n`);
        const claims = decodeJwtPayload(token) ?? {};
        const exp = jwtExpiry(token);
        const state = install(inputs, token, io);
        if (env.GITHUB_STATE)
            appendFileCommand(env.GITHUB_STATE, STATE_NAME, JSON.stringify(state));
        else
            out('::warning::GITHUB_STATE is not set: the post step will not be able to clean up\n');
        const outputs = {
            registry: inputs.registry,
            username: inputs.provider,
            audience: inputs.audience,
            'expires-at': exp !== undefined ? new Date(exp * 1000).toISOString() : '',
            'credential-helper': String(inputs.credentialHelper),
        };
        if (env.GITHUB_OUTPUT)
            for (const [k, v] of Object.entries(outputs))
                appendFileCommand(env.GITHUB_OUTPUT, k, v);
        const who = typeof claims.sub === 'string' ? ` as ${claims.sub}` : '';
        out(inputs.credentialHelper
            ? `Logged in to ${inputs.registry}${who}: docker-credential-${HELPER_SUFFIX} fetches a fresh ID token (audience ${inputs.audience}) whenever one is needed\n`
            : `Logged in to ${inputs.registry}${who} until ${outputs['expires-at']} (a static auths entry: the ID token is not renewed)\n`);
        return 0;
    }
    catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        out(`::error title=purser login::${escapeData(msg)}\n`);
        return 1;
    }
}
export function runPost(io) {
    const raw = io.env[`STATE_${STATE_NAME}`];
    if (!raw) {
        io.stdout('purser login: nothing to clean up\n');
        return 0;
    }
    try {
        const notes = uninstall(JSON.parse(raw));
        for (const n of notes)
            io.stdout(`::warning::${escapeData(n)}\n`);
        io.stdout('purser login: removed the login\n');
    }
    catch (e) {
        io.stdout(`::warning::purser login cleanup: ${escapeData(e instanceof Error ? e.message : String(e))}\n`);
    }
    return 0;
}
/** The action's entry: the post step when the main step said so in its state. */
export function runAction(io) {
    return io.env.STATE_isPost === 'true' ? Promise.resolve(runPost(io)) : runMain(io);
}
// Run by the runner (node actions/login/dist/index.mjs), for the main and the post step alike.
if (isEntryPoint(import.meta.url)) {
    runAction({ env: process.env, stdout: (t) => process.stdout.write(t) }).then((code) => process.exit(code), (err) => {
        process.stdout.write(`::error title=purser login::${escapeData(err instanceof Error ? err.message : String(err))}\n`);
        process.exit(1);
    });
}
