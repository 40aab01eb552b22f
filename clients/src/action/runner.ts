// The runner's protocol for a JavaScript action: inputs from INPUT_* variables, file commands
// (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV), workflow-command escaping, as actions/toolkit does.
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';

export interface ActionIo {
  env: Env;
  /** Workflow commands and log lines go to stdout. */
  stdout(text: string): void;
  /** The credential helper script the wrapper runs (default: credhelper.mjs next to this file). */
  helperScript?: string;
  /** The node binary the wrapper runs it with (default: this process's). */
  nodePath?: string;
}

/** An input as the runner passes it: INPUT_<NAME upper-cased, spaces as _>, trimmed. */
export function getInput(env: Env, name: string): string {
  return (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** YAML 1.2 core booleans, as actions/toolkit's getBooleanInput. */
export function parseBoolean(name: string, value: string, dflt: boolean): boolean {
  if (value === '') return dflt;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new HelperError(
    'INPUT_INVALID',
    `input ${name}: ${JSON.stringify(value)} is not a boolean (true or false)`,
  );
}

/** Appends `name<<DELIM\nvalue\nDELIM` to a file command (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV). */
export function appendFileCommand(file: string, name: string, value: string): void {
  const delim = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delim) || value.includes(delim)) throw new Error('unexpected delimiter collision');
  appendFileSync(file, `${name}<<${delim}\n${value}\n${delim}\n`, 'utf8');
}

/** Escapes a workflow command's message (actions/toolkit's escapeData). */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
