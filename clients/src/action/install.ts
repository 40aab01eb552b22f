// What the main step changes on the runner (docker config entry, helper config, wrapper, a
// cached first token) and how the post step undoes exactly that.
import { appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cacheKey, writeCache } from '../credhelper/cache.js';
import type { RegistryEntry } from '../credhelper/config.js';
import {
  digest,
  dockerConfigPath,
  readJsonObject,
  revertEntry,
  type Section,
  setEntry,
  writeJsonObject,
} from '../docker/config.js';
import { isRecord } from '../env.js';
import type { Inputs } from './inputs.js';
import type { ActionIo } from './runner.js';
import { defaultHelperScript, HELPER_SUFFIX, writeWrapper } from './wrapper.js';

export interface LoginState {
  registry: string;
  dockerConfig: string;
  createdDockerConfig: boolean;
  section: Section;
  /** digest() of the value this step wrote. */
  value: string;
  previous: unknown;
  /** Credential helper mode: the helper's config, the entry this step added and what it replaced. */
  helper?: {
    workDir: string;
    config: string;
    /** digest() of the entry this step wrote. */
    entry: string;
    previous: unknown;
    cacheKey: string | undefined;
    cacheDir: string;
  };
}

/** Everything the main step does once it has a token; returns the state for the post step. */
export function install(inputs: Inputs, token: string, io: ActionIo): LoginState {
  const env = io.env;
  const dockerConfig = dockerConfigPath(env);
  const existing = readJsonObject(dockerConfig);
  const doc = existing ?? {};
  const state: LoginState = {
    registry: inputs.registry,
    dockerConfig,
    createdDockerConfig: existing === undefined,
    section: inputs.credentialHelper ? 'credHelpers' : 'auths',
    value: '',
    previous: null,
  };
  let value: unknown;
  if (inputs.credentialHelper) {
    const workDir = join(env.RUNNER_TEMP || tmpdir(), 'purser-login');
    const configPath = join(workDir, 'credhelper.json');
    const cacheDir = join(workDir, 'cache');
    const helperDoc = readJsonObject(configPath) ?? {};
    helperDoc.cacheDir = cacheDir;
    const entry = { provider: inputs.provider, audience: inputs.audience, source: 'github' };
    const helperPrevious = setEntry(helperDoc, 'registries', inputs.registry, entry);
    writeJsonObject(configPath, helperDoc);
    const wrapper = writeWrapper(
      join(workDir, 'bin'),
      io.nodePath ?? process.execPath,
      io.helperScript ?? defaultHelperScript(),
      configPath,
    );
    // The helper would fetch this very token on its first `get`: hand it over.
    const re: RegistryEntry = {
      registry: inputs.registry,
      provider: inputs.provider,
      audience: inputs.audience,
      source: { type: 'github' },
    };
    const key = cacheKey(re, { type: 'github' }, env);
    if (key !== undefined) writeCache(cacheDir, key, token);
    if (env.GITHUB_PATH) appendFileSync(env.GITHUB_PATH, `${dirname(wrapper)}\n`, 'utf8');
    else io.stdout(`::warning::GITHUB_PATH is not set: add ${dirname(wrapper)} to PATH yourself\n`);
    state.helper = {
      workDir,
      config: configPath,
      entry: digest(entry),
      previous: helperPrevious,
      cacheKey: key,
      cacheDir,
    };
    value = HELPER_SUFFIX;
  } else {
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
export function uninstall(state: LoginState): string[] {
  const notes: string[] = [];
  const doc = readJsonObject(state.dockerConfig);
  if (doc !== undefined) {
    if (!revertEntry(doc, state.section, state.registry, state.value, state.previous)) {
      notes.push(
        `${state.dockerConfig}: ${state.section}["${state.registry}"] was changed since login; left as it is`,
      );
    }
    if (state.createdDockerConfig && Object.keys(doc).length === 0)
      rmSync(state.dockerConfig, { force: true });
    else writeJsonObject(state.dockerConfig, doc);
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
    if (h.cacheKey) rmSync(join(h.cacheDir, `${h.cacheKey}.json`), { force: true });
  }
  return notes;
}
