// Editing JSON config files in place (docker's config.json, the helper's config): one entry set
// and later reverted exactly, everything else kept. Reverting compares digests, so the post
// step recognises what it wrote without keeping a secret in its state.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Env, isRecord } from '../env.js';
import { HelperError } from '../errors.js';

export function dockerConfigPath(env: Env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}

export type Section = 'credHelpers' | 'auths';

/** Reads a JSON object file; `undefined` when it does not exist. Refuses to go on with a broken one. */
export function readJsonObject(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HelperError('FILE_INVALID', `cannot read ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new HelperError(
      'FILE_INVALID',
      `${path} is not valid JSON (left unchanged): ${(e as Error).message}`,
    );
  }
  if (!isRecord(doc)) throw new HelperError('FILE_INVALID', `${path} is not a JSON object (left unchanged)`);
  return doc;
}

export function writeJsonObject(path: string, doc: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Sets `doc[section][key] = value`, keeping everything else. Returns the value it replaced
 * (`null`: there was none), for the post step.
 */
export function setEntry(
  doc: Record<string, unknown>,
  section: string,
  key: string,
  value: unknown,
): unknown {
  const current = doc[section];
  if (current !== undefined && !isRecord(current)) {
    throw new HelperError('FILE_INVALID', `"${section}" is not an object (left unchanged)`);
  }
  const obj: Record<string, unknown> = current ?? {};
  const previous = Object.hasOwn(obj, key) ? obj[key] : null;
  obj[key] = value;
  doc[section] = obj;
  return previous;
}

/** A digest of a JSON value: the post step recognises what it wrote without keeping a secret in state. */
export function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/**
 * Undoes setEntry: when `doc[section][key]` still holds the value whose digest is `valueDigest`,
 * puts `previous` back (or removes the key, and the section if that empties it). Returns false
 * when someone changed it since.
 */
export function revertEntry(
  doc: Record<string, unknown>,
  section: string,
  key: string,
  valueDigest: string,
  previous: unknown,
): boolean {
  const obj = doc[section];
  if (!isRecord(obj) || !Object.hasOwn(obj, key)) return previous === null;
  if (digest(obj[key]) !== valueDigest) return false;
  if (previous === null) {
    delete obj[key];
    if (Object.keys(obj).length === 0) delete doc[section];
  } else {
    obj[key] = previous;
  }
  return true;
}
