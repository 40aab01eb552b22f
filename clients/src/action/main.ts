// The action's main step: the job's ID token for the audience, installed as docker credentials.
import { HelperError } from '../errors.js';
import { decodeJwtPayload, jwtExpiry } from '../jwt.js';
import { fetchGithubIdToken, GITHUB_PERMISSION_HINT } from '../sources/github.js';
import { readInputs } from './inputs.js';
import { install } from './install.js';
import { type ActionIo, appendFileCommand, escapeData } from './runner.js';
import { HELPER_SUFFIX } from './wrapper.js';

/** GITHUB_STATE names: the post step's undo record, and the flag that tells it it is the post step. */
export const STATE_NAME = 'login';
export const POST_FLAG = 'isPost';

export async function runMain(io: ActionIo): Promise<number> {
  const env = io.env;
  const out = io.stdout;
  // First: tells the post step it is the post step (the same file runs both).
  if (env.GITHUB_STATE) appendFileCommand(env.GITHUB_STATE, POST_FLAG, 'true');
  try {
    const inputs = readInputs(env);
    if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
      throw new HelperError('SOURCE_UNAVAILABLE', GITHUB_PERMISSION_HINT);
    }
    const token = await fetchGithubIdToken(env, inputs.audience);
    out(`::add-mask::${token}\n`);
    const claims = decodeJwtPayload(token) ?? {};
    const exp = jwtExpiry(token);
    const state = install(inputs, token, io);
    if (env.GITHUB_STATE) appendFileCommand(env.GITHUB_STATE, STATE_NAME, JSON.stringify(state));
    else out('::warning::GITHUB_STATE is not set: the post step will not be able to clean up\n');
    const outputs: Record<string, string> = {
      registry: inputs.registry,
      username: inputs.provider,
      audience: inputs.audience,
      'expires-at': exp !== undefined ? new Date(exp * 1000).toISOString() : '',
      'credential-helper': String(inputs.credentialHelper),
    };
    if (env.GITHUB_OUTPUT)
      for (const [k, v] of Object.entries(outputs)) appendFileCommand(env.GITHUB_OUTPUT, k, v);
    const who = typeof claims.sub === 'string' ? ` as ${claims.sub}` : '';
    out(
      inputs.credentialHelper
        ? `Logged in to ${inputs.registry}${who}: docker-credential-${HELPER_SUFFIX} fetches a fresh ID token (audience ${inputs.audience}) whenever one is needed\n`
        : `Logged in to ${inputs.registry}${who} until ${outputs['expires-at']} (a static auths entry: the ID token is not renewed)\n`,
    );
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    out(`::error title=purser login::${escapeData(msg)}\n`);
    return 1;
  }
}
