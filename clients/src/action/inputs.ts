// The action's inputs (action.yml), checked.
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';
import { normaliseRegistry, registryHost } from '../registry.js';
import { getInput, parseBoolean } from './runner.js';

export interface Inputs {
  registry: string;
  audience: string;
  provider: string;
  credentialHelper: boolean;
}

export function readInputs(env: Env): Inputs {
  const raw = getInput(env, 'registry');
  if (raw === '')
    throw new HelperError(
      'INPUT_INVALID',
      'input registry is required (host[:port] of the registry Purser protects)',
    );
  const registry = normaliseRegistry(raw);
  if (registry === '' || /\s/.test(registry))
    throw new HelperError('INPUT_INVALID', `input registry: ${JSON.stringify(raw)} is not a registry host`);
  const provider = getInput(env, 'provider') || 'github';
  if (provider.includes(':'))
    throw new HelperError('INPUT_INVALID', 'input provider: a Basic username cannot contain ":"');
  return {
    registry,
    audience: getInput(env, 'audience') || registryHost(registry),
    provider,
    credentialHelper: parseBoolean('credential-helper', getInput(env, 'credential-helper'), true),
  };
}
